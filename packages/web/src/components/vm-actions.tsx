import type { Client, Vm, VmActionResult } from '@hangar/sdk';
import { useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { ErrorNote } from './error-note.js';

type Action = 'start' | 'stop' | 'force_stop' | 'restart' | 'reset' | 'pause' | 'resume' | 'delete';

/** The buttons, in this order, for the actions the VM allows now. */
const ACTIONS: { action: Action; label: string; confirm?: string }[] = [
  { action: 'start', label: 'Start' },
  { action: 'stop', label: 'Stop' },
  { action: 'pause', label: 'Pause' },
  { action: 'resume', label: 'Resume' },
  { action: 'restart', label: 'Restart', confirm: 'The guest is asked to reboot; what it has not saved may be lost.' },
  {
    action: 'reset',
    label: 'Reset',
    confirm: 'The VM is reset at once, like pressing its reset button: unsaved work in the guest is lost.',
  },
  {
    action: 'force_stop',
    label: 'Force stop',
    confirm: 'The VM is powered off at once, like pulling its plug: unsaved work in the guest is lost.',
  },
  { action: 'delete', label: 'Delete', confirm: 'The VM and its disks are deleted. This cannot be undone.' },
];

function send(client: Client, vm: Vm, action: Action): Promise<VmActionResult> {
  switch (action) {
    case 'start':
      return client.startVm(vm.id);
    case 'stop':
      return client.stopVm(vm.id);
    case 'pause':
      return client.pauseVm(vm.id);
    case 'resume':
      return client.resumeVm(vm.id);
    case 'restart':
      return client.restartVm(vm.id);
    case 'reset':
      return client.resetVm(vm.id);
    case 'force_stop':
      return client.forceStopVm(vm.id);
    case 'delete':
      return client.deleteVm(vm.id);
  }
}

/** The VM's allowed actions as buttons; the destructive ones ask first. A refusal shows the API's message. */
export function VmActions(props: { client: Client; vm: Vm; onResult: (r: VmActionResult) => void; onRefused?: () => void }) {
  const [busy, setBusy] = useState<Action | null>(null);
  const [asking, setAsking] = useState<(typeof ACTIONS)[number] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const allowed = new Set<string>(props.vm.allowed_actions);
  const shown = ACTIONS.filter((a) => allowed.has(a.action));

  const run = async (action: Action) => {
    setAsking(null);
    setBusy(action);
    setError(null);
    try {
      props.onResult(await send(props.client, props.vm, action));
    } catch (err) {
      setError(messageOf(err));
      // Refused: the VM likely changed meanwhile; read it again for the buttons it allows now.
      props.onRefused?.();
    } finally {
      setBusy(null);
    }
  };

  return (
    <div class="actions-area">
      <fieldset class="actions">
        <legend class="visually-hidden">Actions</legend>
        {shown.length === 0 && <span class="muted">No action is possible while the VM is {props.vm.status}.</span>}
        {shown.map((a) => (
          <button
            key={a.action}
            type="button"
            class={`button${a.confirm ? ' button-danger' : ''}`}
            data-action={a.action}
            disabled={busy !== null}
            aria-busy={busy === a.action}
            onClick={() => (a.confirm ? setAsking(a) : run(a.action))}
          >
            {a.label}
          </button>
        ))}
      </fieldset>
      <ErrorNote error={error} id="action-error" />
      {asking && (
        <ConfirmDialog
          title={`${asking.label} ${props.vm.name}?`}
          confirmLabel={asking.label}
          onConfirm={() => run(asking.action)}
          onCancel={() => setAsking(null)}
        >
          <p>{asking.confirm}</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
