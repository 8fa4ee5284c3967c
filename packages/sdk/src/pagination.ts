import type { ListVmsQuery, Vm, VmPage } from './types.js';

/**
 * The VMs a query matches: `for await (const vm of list)` walks every page (by cursor),
 * `await list.page()` fetches just the page the query names.
 */
export class VmList implements AsyncIterable<Vm> {
  constructor(
    private readonly fetchPage: (query: ListVmsQuery) => Promise<VmPage>,
    private readonly query: ListVmsQuery,
  ) {}

  page(): Promise<VmPage> {
    return this.fetchPage(this.query);
  }

  async *pages(): AsyncGenerator<VmPage> {
    let page = await this.fetchPage(this.query);
    yield page;
    while (page.next_cursor) {
      page = await this.fetchPage({ ...this.query, page: undefined, cursor: page.next_cursor });
      yield page;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Vm> {
    for await (const page of this.pages()) yield* page.vms;
  }

  /** Every matching VM in one array (mind the size). */
  async toArray(): Promise<Vm[]> {
    const all: Vm[] = [];
    for await (const vm of this) all.push(vm);
    return all;
  }
}
