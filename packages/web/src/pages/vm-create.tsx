import type { Client, CreateVmSpec, Image } from '@hangar/sdk';
import { useEffect, useState } from 'preact/hooks';
import { fieldErrors, messageOf } from '../api.js';
import { ErrorNote } from '../components/error-note.js';
import { Field, fieldProps } from '../components/field.js';
import { parseLabels } from '../format.js';
import { navigate } from '../router.js';

/** A number field's value as the API takes it: a number, or left out when empty. */
const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/** A new VM: the API checks every field, and its messages are shown on the fields. */
export function VmCreate(props: { client: Client }) {
  const [form, setForm] = useState({
    name: '',
    cpu_cores: '2',
    memory_mb: '2048',
    disk_gb: '20',
    os_type: 'linux',
    labels: '',
    image_id: '',
  });
  const [start, setStart] = useState(false);
  const [images, setImages] = useState<Image[]>([]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    props.client.listImages().then(
      (list) => setImages(list.filter((i) => i.status === 'ready')),
      () => {},
    );
  }, [props.client]);

  const set = (key: keyof typeof form) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [key]: e.currentTarget.value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    const spec = {
      name: form.name.trim(),
      cpu_cores: num(form.cpu_cores),
      memory_mb: num(form.memory_mb),
      disk_gb: num(form.disk_gb),
      os_type: form.os_type,
      labels: parseLabels(form.labels),
      ...(form.image_id ? { image_id: form.image_id } : {}),
      start,
    } as CreateVmSpec;
    try {
      const { vm } = await props.client.createVm(spec);
      navigate(`/vms/${vm.id}`);
    } catch (err) {
      const fields = fieldErrors(err);
      setErrors(fields);
      setError(Object.keys(fields).length > 0 ? 'Some fields need a change: see below each one.' : messageOf(err));
      setBusy(false);
    }
  };

  return (
    <main id="main" class="page">
      <h1>Create a VM</h1>
      <form class="card form" onSubmit={submit} noValidate aria-label="Create a VM">
        <ErrorNote error={error} id="create-error" />
        <Field id="name" label="Name" error={errors.name} hint="Lowercase letters, digits and hyphens">
          <input {...fieldProps('name', errors.name, 'Lowercase letters, digits and hyphens')} value={form.name} onInput={set('name')} />
        </Field>
        <div class="field-row">
          <Field id="cpu_cores" label="vCPUs" error={errors.cpu_cores}>
            <input {...fieldProps('cpu_cores', errors.cpu_cores)} type="number" min={1} value={form.cpu_cores} onInput={set('cpu_cores')} />
          </Field>
          <Field id="memory_mb" label="Memory (MiB)" error={errors.memory_mb}>
            <input
              {...fieldProps('memory_mb', errors.memory_mb)}
              type="number"
              min={128}
              step={128}
              value={form.memory_mb}
              onInput={set('memory_mb')}
            />
          </Field>
          <Field id="disk_gb" label="Disk (GB)" error={errors.disk_gb}>
            <input {...fieldProps('disk_gb', errors.disk_gb)} type="number" min={1} value={form.disk_gb} onInput={set('disk_gb')} />
          </Field>
        </div>
        <div class="field-row">
          <Field id="os_type" label="Operating system" error={errors.os_type}>
            <select {...fieldProps('os_type', errors.os_type)} value={form.os_type} onChange={set('os_type')}>
              <option value="linux">Linux</option>
              <option value="windows">Windows</option>
              <option value="other">Other</option>
            </select>
          </Field>
          <Field id="image_id" label="Image" error={errors.image_id}>
            <select {...fieldProps('image_id', errors.image_id)} value={form.image_id} onChange={set('image_id')}>
              <option value="">None (empty disk)</option>
              {images.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name} ({i.kind})
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field id="labels" label="Labels" error={errors.labels} hint="key=value, separated by commas">
          <input {...fieldProps('labels', errors.labels, 'key=value, separated by commas')} value={form.labels} onInput={set('labels')} />
        </Field>
        <label class="check">
          <input type="checkbox" name="start" checked={start} onChange={(e) => setStart(e.currentTarget.checked)} /> Start it once it is
          created
        </label>
        <div class="form-buttons">
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create VM'}
          </button>
          <button type="button" class="button" onClick={() => history.back()}>
            Cancel
          </button>
        </div>
      </form>
    </main>
  );
}
