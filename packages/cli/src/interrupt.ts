/**
 * Ctrl-C while `hgr` waits: the wait stops, the operation on the server does not (nothing is
 * cancelled behind the user's back). The command then says how to pick the wait up again and
 * exits 130.
 */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(
    message: string,
    /** What to run to resume, when there is something to resume. */
    readonly resume: string | null,
  ) {
    super(message);
  }
}

/**
 * An AbortSignal that fires on SIGINT while `fn` runs. Listening to SIGINT also keeps Node from
 * dying on it, so the command can say what it was doing.
 */
export async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => controller.abort(new Interrupted('interrupted', null));
  process.on('SIGINT', onSigint);
  try {
    return await fn(controller.signal);
  } catch (err) {
    // Whatever the abort surfaced as (the SDK's rethrown reason, a fetch AbortError mid-stream), it was Ctrl-C.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
