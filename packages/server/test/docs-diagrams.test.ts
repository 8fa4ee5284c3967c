import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTestRuns, launchChromium } from './chromium.js';

/**
 * Every ```mermaid block of the Markdown under docs/ and of the README parses with the real
 * mermaid library, in the real browser (mermaid needs a DOM: in plain Node its sanitizer has no
 * window). GitHub renders these blocks; one that does not parse shows as an error box instead of
 * a diagram, and nothing else would notice.
 */

// CI installs Chromium (.ci/run): there, a missing one is a failure, not a skip.
const runIt = browserTestRuns('docs diagrams test');

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** mermaid's browser bundle (an IIFE that sets `window.mermaid`). */
const MERMAID_BUNDLE = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');

interface Diagram {
  /** The file, relative to the repository. */
  file: string;
  /** 1-based, counting the file's mermaid blocks only. */
  block: number;
  /** The line of the opening fence. */
  line: number;
  source: string;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return markdownFiles(path);
    return e.isFile() && e.name.endsWith('.md') ? [path] : [];
  });
}

/** The mermaid blocks of a Markdown text: fenced with ``` or ~~~ (three or more), info string `mermaid`. */
function mermaidBlocks(file: string, text: string): Diagram[] {
  const lines = text.split(/\r?\n/);
  const found: Diagram[] = [];
  let open: { fence: string; mermaid: boolean; line: number; body: string[] } | null = null;
  for (const [i, line] of lines.entries()) {
    if (!open) {
      const m = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(line);
      if (m) open = { fence: m[1]!, mermaid: m[2]!.toLowerCase() === 'mermaid', line: i + 1, body: [] };
      continue;
    }
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
    if (close && close[1]![0] === open.fence[0] && close[1]!.length >= open.fence.length) {
      if (open.mermaid) found.push({ file, block: found.length + 1, line: open.line, source: open.body.join('\n') });
      open = null;
    } else {
      open.body.push(line);
    }
  }
  if (open?.mermaid) throw new Error(`${file}: the mermaid block opened at line ${open.line} is never closed`);
  return found;
}

function repoDiagrams(): Diagram[] {
  const files = [join(repo, 'README.md'), ...markdownFiles(join(repo, 'docs'))].sort();
  return files.flatMap((path) => mermaidBlocks(relative(repo, path), readFileSync(path, 'utf8')));
}

/** Runs in the page: mermaid's message for each source it refuses, null for each it takes. */
async function parseAll(sources: string[]): Promise<(string | null)[]> {
  const { mermaid } = globalThis as unknown as { mermaid: { parse(text: string): Promise<unknown> } };
  const out: (string | null)[] = [];
  for (const source of sources) {
    try {
      await mermaid.parse(source);
      out.push(null);
    } catch (err) {
      out.push(err instanceof Error ? err.message : String(err));
    }
  }
  return out;
}

/** Each diagram that mermaid refuses, as `file block N (line L): mermaid's message`. */
async function refused(page: Page, diagrams: Diagram[]): Promise<string[]> {
  const results = await page.evaluate(
    parseAll,
    diagrams.map((d) => d.source),
  );
  return diagrams.flatMap((d, i) => (results[i] === null ? [] : [`${d.file} block ${d.block} (line ${d.line}): ${results[i]}`]));
}

let browser: Browser;
let page: Page;
beforeAll(async () => {
  if (!runIt) return;
  browser = await launchChromium();
  page = await browser.newPage();
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>');
  await page.addScriptTag({ path: MERMAID_BUNDLE });
  await page.evaluate(() => {
    const { mermaid } = globalThis as unknown as { mermaid: { initialize(config: object): void } };
    mermaid.initialize({ startOnLoad: false });
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
});

describe('finding the diagrams', () => {
  it('takes mermaid blocks only, numbered per file, with the line of their fence', () => {
    const text = [
      '# T', // 1
      '```mermaid', // 2
      'flowchart LR', // 3
      '  A --> B', // 4
      '```', // 5
      '```ts', // 6
      'const x = 1;', // 7
      '```', // 8
      '````markdown', // 9
      '```mermaid', // 10: inside another fence, not a diagram of this file
      'not a diagram', // 11
      '```', // 12
      '````', // 13
      '~~~ Mermaid', // 14
      'sequenceDiagram', // 15
      '  A->>B: hi', // 16
      '~~~', // 17
    ].join('\n');
    expect(mermaidBlocks('t.md', text)).toEqual([
      { file: 't.md', block: 1, line: 2, source: 'flowchart LR\n  A --> B' },
      { file: 't.md', block: 2, line: 14, source: 'sequenceDiagram\n  A->>B: hi' },
    ]);
    expect(() => mermaidBlocks('t.md', '```mermaid\nflowchart LR\n')).toThrow(/t\.md: the mermaid block opened at line 1/);
  });

  it('finds the diagrams of docs/ and the README', () => {
    const files = new Set(repoDiagrams().map((d) => d.file));
    expect(files).toContain('docs/architecture.md');
    expect(files).toContain('docs/design/gpu-platform.md');
  });
});

describe.runIf(runIt)('mermaid diagrams in the docs, parsed by mermaid in a real browser', () => {
  it('every diagram parses', async () => {
    const diagrams = repoDiagrams();
    expect(diagrams.length).toBeGreaterThan(0);
    expect(await refused(page, diagrams)).toEqual([]);
  });

  it('a broken diagram is refused, named by its file and block', async () => {
    const diagrams = mermaidBlocks(
      'broken.md',
      [
        '```mermaid',
        'flowchart LR',
        '  A --> B',
        '```',
        '',
        '```mermaid',
        'sequenceDiagram',
        '  participant A',
        '  A->>B: hello',
        '  end',
        '```',
        '',
        '```mermaid',
        'stateDiagram-v2',
        '  [*] --> free',
        '  free --> held: create',
        '```',
        '',
        '```mermaid',
        'flowchart LR',
        '  A[unclosed --> B',
        '```',
        '',
        '```mermaid',
        'not-a-diagram-type',
        '  A --> B',
        '```',
      ].join('\n'),
    );
    const failures = await refused(page, diagrams);
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatch(/^broken\.md block 2 \(line 6\): \S/);
    expect(failures[1]).toMatch(/^broken\.md block 4 \(line 19\): \S/);
    expect(failures[2]).toMatch(/^broken\.md block 5 \(line 24\): \S/);
  });
});
