/** What a wait shows while it runs; a no-op when progress is not shown. */
export interface Spinner {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

const SILENT: Spinner = { update() {}, succeed() {}, fail() {}, stop() {} };

/** An ora spinner on stderr; ora is loaded only here, when a spinner is really drawn. */
export async function startSpinner(text: string, enabled: boolean): Promise<Spinner> {
  if (!enabled) return SILENT;
  const { default: ora } = await import('ora');
  // discardStdin false: ora would otherwise take over stdin, and with it the Ctrl-C we handle ourselves.
  const spinner = ora({ text, stream: process.stderr, discardStdin: false }).start();
  return {
    update: (t) => {
      spinner.text = t;
    },
    succeed: (t) => spinner.succeed(t),
    fail: (t) => spinner.fail(t),
    stop: () => spinner.stop(),
  };
}
