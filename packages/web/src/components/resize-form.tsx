import type { Client, Vm, VmActionResult } from '@hangar/sdk';
import { useState } from 'preact/hooks';
import { fieldErrors, messageOf } from '../api.js';
import { ErrorNote } from './error-note.js';
import { Field, fieldProps } from './field.js';

const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/** CPU, memory and disk of a stopped VM (disks only grow); the API's messages land on the fields. */
export function ResizeForm(props: { client: Client; vm: Vm; onResult: (r: VmActionResult) => void }) {
  const { vm } = props;
  const [form, setForm] = useState({ cpu_cores: String(vm.cpu_cores), memory_mb: String(vm.memory_mb), disk_gb: String(vm.disk_gb) });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    setDone(null);
    const size: { cpu_cores?: number; memory_mb?: number; disk_gb?: number } = {};
    const c = num(form.cpu_cores);
    const m = num(form.memory_mb);
    const d = num(form.disk_gb);
    if (c !== vm.cpu_cores) size.cpu_cores = c;
    if (m !== vm.memory_mb) size.memory_mb = m;
    if (d !== vm.disk_gb) size.disk_gb = d;
    try {
      props.onResult(await props.client.resizeVm(vm.id, size));
      setDone('Resize requested.');
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      const listed = ['cpu_cores', 'memory_mb', 'disk_gb'];
      const other = Object.entries(fields).filter(([k]) => !listed.includes(k));
      setError(Object.keys(fields).length === 0 ? messageOf(err) : other.length > 0 ? other.map(([, m]) => m).join('; ') : null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card form resize" onSubmit={submit} noValidate aria-labelledby="resize-title">
      <h2 id="resize-title">Resize</h2>
      <div class="field-row">
        <Field id="resize-cpu_cores" label="vCPUs" error={errors.cpu_cores}>
          <input {...fieldProps('resize-cpu_cores', errors.cpu_cores)} type="number" value={form.cpu_cores} onInput={set('cpu_cores')} />
        </Field>
        <Field id="resize-memory_mb" label="Memory (MiB)" error={errors.memory_mb}>
          <input {...fieldProps('resize-memory_mb', errors.memory_mb)} type="number" value={form.memory_mb} onInput={set('memory_mb')} />
        </Field>
        <Field id="resize-disk_gb" label="Disk (GB)" error={errors.disk_gb} hint="Disks only grow">
          <input
            {...fieldProps('resize-disk_gb', errors.disk_gb, 'Disks only grow')}
            type="number"
            value={form.disk_gb}
            onInput={set('disk_gb')}
          />
        </Field>
      </div>
      <ErrorNote error={error} id="resize-error" />
      {done && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      <div class="form-buttons">
        <button type="submit" class="button" disabled={busy}>
          {busy ? 'Resizing…' : 'Resize'}
        </button>
      </div>
    </form>
  );
}
