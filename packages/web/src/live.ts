import type { Client, WatchFilter } from '@hangar/sdk';
import { useEffect, useRef } from 'preact/hooks';

/**
 * Follows the watch stream while the component is shown, calling `onEvent` for each event (the
 * SDK reconnects and resumes by itself); `onReconnect` after a lost connection, to re-read what
 * may have changed meanwhile.
 */
export function useWatch(
  client: Client,
  /** null: follow nothing (the caller may not watch this). */
  filter: WatchFilter | null,
  onEvent: (e: { vm_id?: string | null; type: string; kind?: string }) => void,
  onReconnect?: () => void,
): void {
  const handlers = useRef({ onEvent, onReconnect });
  handlers.current = { onEvent, onReconnect };
  const key = JSON.stringify(filter);
  useEffect(() => {
    if (!filter) return;
    const stop = new AbortController();
    (async () => {
      const events = client.watch(filter, { signal: stop.signal, onReconnect: () => handlers.current.onReconnect?.() });
      for await (const e of events) handlers.current.onEvent(e);
    })().catch(() => {
      // Ended: a refusal (signed out) or the page closed; the page still shows what it read.
    });
    return () => stop.abort();
  }, [client, key]);
}
