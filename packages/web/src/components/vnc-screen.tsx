import type { Client } from '@hangar/sdk';
import RFB from '@novnc/novnc';
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { ErrorNote } from './error-note.js';

type State = { kind: 'connecting' } | { kind: 'connected' } | { kind: 'closed'; clean: boolean } | { kind: 'refused'; message: string };

/**
 * The VM's screen through noVNC (this module and noVNC load only when the Console tab opens):
 * a one-time ticket from the API, then a WebSocket to the path it names on this server.
 */
export default function VncScreen(props: { client: Client; vmId: string; viewOnly: boolean }) {
  const screen = useRef<HTMLElement>(null);
  const rfb = useRef<RFB | null>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let gone = false;
    setState({ kind: 'connecting' });
    (async () => {
      let path: string;
      try {
        ({ path } = await props.client.consoleTicket(props.vmId));
      } catch (err) {
        if (!gone) setState({ kind: 'refused', message: messageOf(err) });
        return;
      }
      if (gone || !screen.current) return;
      const url = location.origin.replace(/^http/, 'ws') + path;
      // `binary`: raw RFB bytes in binary frames, the one subprotocol the server speaks.
      const r = new RFB(screen.current, url, { shared: true, wsProtocols: ['binary'] });
      r.scaleViewport = true;
      r.background = '#111';
      r.viewOnly = props.viewOnly;
      r.addEventListener('connect', () => setState({ kind: 'connected' }));
      r.addEventListener('disconnect', (e) => setState({ kind: 'closed', clean: !!(e as CustomEvent<{ clean: boolean }>).detail?.clean }));
      r.addEventListener('securityfailure', (e) =>
        setState({
          kind: 'refused',
          message: String((e as CustomEvent<{ reason?: string }>).detail?.reason ?? 'The VNC server refused the connection'),
        }),
      );
      rfb.current = r;
    })();
    return () => {
      gone = true;
      rfb.current?.disconnect();
      rfb.current = null;
    };
  }, [props.client, props.vmId, attempt]);

  return (
    <div class="vnc">
      <div class="panel-head">
        <p class="muted" role="status" data-vnc-state={state.kind}>
          {state.kind === 'connecting' && 'Connecting…'}
          {state.kind === 'connected' && (props.viewOnly ? 'Connected (view only)' : 'Connected: click the screen to type into it')}
          {state.kind === 'closed' && (state.clean ? 'Disconnected.' : 'The connection was lost.')}
          {state.kind === 'refused' && 'Not connected.'}
        </p>
        <div class="actions">
          {!props.viewOnly && (
            <button type="button" class="button" disabled={state.kind !== 'connected'} onClick={() => rfb.current?.sendCtrlAltDel()}>
              Send Ctrl+Alt+Del
            </button>
          )}
          <button type="button" class="button" onClick={() => setAttempt((a) => a + 1)}>
            Reconnect
          </button>
        </div>
      </div>
      {state.kind === 'refused' && <ErrorNote error={state.message} id="console-error" />}
      <section class="vnc-screen" ref={screen} aria-label="VM screen" data-testid="vnc-screen" />
    </div>
  );
}
