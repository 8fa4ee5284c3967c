import { type Client, HangarError } from '@hangar/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { bytes } from '../format.js';
import { ErrorNote } from './error-note.js';

/** The end of what the guest wrote to its serial console; a host that keeps it elsewhere says so. */
export function ConsoleLog(props: { client: Client; vmId: string }) {
  const [log, setLog] = useState<{ text: string; size_bytes: number; truncated: boolean } | null>(null);
  const [unsupported, setUnsupported] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setLog(await props.client.getConsoleLog(props.vmId));
      setError(null);
    } catch (err) {
      if (err instanceof HangarError && err.code === 'UNSUPPORTED') setUnsupported(err.message);
      else setError(messageOf(err));
    }
  }, [props.client, props.vmId]);
  useEffect(() => {
    load();
  }, [load]);

  if (unsupported)
    return (
      <p class="notice" data-testid="console-log-unsupported">
        The serial console log is not available here: {unsupported}
      </p>
    );
  return (
    <div>
      <div class="panel-head">
        <p class="muted">{log ? `${bytes(log.size_bytes)}${log.truncated ? ', showing its end' : ''}` : error ? '' : 'Loading…'}</p>
        <button type="button" class="button" onClick={load}>
          Refresh
        </button>
      </div>
      <ErrorNote error={error} />
      {log && (
        <section aria-label="Serial console log">
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region is reached and scrolled with the keyboard */}
          <pre class="log" tabIndex={0}>
            {log.text || '(nothing yet)'}
          </pre>
        </section>
      )}
    </div>
  );
}
