import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** The real browser the page tests drive (Debian's chromium; `.ci/run` installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Whether a browser test runs: with Chromium here, and always in CI (where a missing browser
 * must fail the run, not skip it). Elsewhere it is skipped, saying why.
 */
export function browserTestRuns(what: string): boolean {
  const runs = existsSync(CHROMIUM) || !!process.env.CI;
  if (!runs) console.warn(`${what} skipped: no ${CHROMIUM} (apt-get install chromium; .ci/run does)`);
  return runs;
}

/** Headless Chromium as root in a container allows it: no sandbox, nothing fetched in the background. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
