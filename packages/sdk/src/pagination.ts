import type { Vm, VmPage } from './types.js';

/**
 * Every list the client returns, one shape:
 * - `await client.listX()` (or `.page()`): the first page, as the server answers it;
 * - `for await (const item of client.listX())`: every item, fetching page after page;
 * - `.pages()` page by page, `.toArray()` every item at once (mind the size).
 * Lists the server answers whole (projects, users, keys, images) are one page.
 */
export class PagePromise<Item, Page> implements PromiseLike<Page>, AsyncIterable<Item> {
  private first: Promise<Page> | null = null;

  constructor(
    /** Fetches a page: the first with `null`, then with what `next` returned. */
    private readonly fetchPage: (next: string | null) => Promise<Page>,
    private readonly itemsOf: (page: Page) => Item[],
    /** What fetches the page after this one, or null on the last page. */
    private readonly nextOf: (page: Page) => string | null = () => null,
  ) {}

  /** The first page (fetched once, however often it is asked for). */
  page(): Promise<Page> {
    this.first ??= this.fetchPage(null);
    return this.first;
  }

  // biome-ignore lint/suspicious/noThenProperty: a list is awaited for its first page, like a promise of it
  then<A = Page, B = never>(
    onfulfilled?: ((page: Page) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.page().then(onfulfilled, onrejected);
  }

  async *pages(): AsyncGenerator<Page> {
    let page = await this.page();
    yield page;
    for (let next = this.nextOf(page); next !== null; next = this.nextOf(page)) {
      page = await this.fetchPage(next);
      yield page;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Item> {
    for await (const page of this.pages()) yield* this.itemsOf(page);
  }

  async toArray(): Promise<Item[]> {
    const all: Item[] = [];
    for await (const item of this) all.push(item);
    return all;
  }
}

/** The VMs a query matches (paged by cursor). */
export type VmList = PagePromise<Vm, VmPage>;
