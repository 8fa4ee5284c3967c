import type { Client, Principal, Vm, VmStatus } from '@hangar/sdk';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { canOperate, isNotFound, messageOf } from '../api.js';
import { ErrorNote } from '../components/error-note.js';
import { LabelList } from '../components/label-list.js';
import { Link } from '../components/link.js';
import { StatusBadge } from '../components/status-badge.js';
import { memory } from '../format.js';
import { useHostNames } from '../hosts.js';
import { useWatch } from '../live.js';

const STATUSES: VmStatus[] = [
  'running',
  'stopped',
  'paused',
  'error',
  'unknown',
  'provisioning',
  'starting',
  'stopping',
  'restarting',
  'pausing',
  'resuming',
  'updating',
  'exporting',
  'deleting',
];

interface Filters {
  status: string;
  label: string;
  search: string;
}

/** Whether a VM read after an event still belongs in the list the filters show. */
function matches(vm: Vm, f: Filters): boolean {
  if (vm.status === 'deleted') return false;
  if (f.status && vm.status !== f.status) return false;
  if (f.label) {
    const [k, ...rest] = f.label.split('=');
    const v = rest.join('=');
    if (!(k! in vm.labels)) return false;
    if (rest.length > 0 && vm.labels[k!] !== v) return false;
  }
  if (f.search) {
    const s = f.search.toLowerCase();
    if (!vm.name.toLowerCase().includes(s) && !vm.id.startsWith(s)) return false;
  }
  return true;
}

const newestFirst = (a: Vm, b: Vm) => b.created_at.localeCompare(a.created_at) || a.name.localeCompare(b.name);

/** The project's VMs, filtered, kept current from the watch stream without reloading. */
export function VmList(props: { client: Client; principal: Principal }) {
  const { client } = props;
  const [filters, setFilters] = useState<Filters>({ status: '', label: '', search: '' });
  const [search, setSearch] = useState('');
  const [vms, setVms] = useState<Vm[] | null>(null);
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const hostNames = useHostNames(client, props.principal);
  const current = useRef(filters);
  current.current = filters;

  const load = useCallback(async () => {
    const f = current.current;
    try {
      const page = await client.listVms({
        per_page: 100,
        ...(f.status ? { status: f.status as VmStatus } : {}),
        ...(f.label ? { label: f.label } : {}),
        ...(f.search ? { search: f.search } : {}),
      });
      if (current.current !== f) return;
      setVms(page.vms.slice().sort(newestFirst));
      setTotal(page.total);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
      setVms((v) => v ?? []);
    }
  }, [client]);

  useEffect(() => {
    load();
  }, [load, filters]);

  // Search as one types, once the typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setFilters((f) => (f.search === search.trim() ? f : { ...f, search: search.trim() })), 250);
    return () => clearTimeout(t);
  }, [search]);

  useWatch(
    client,
    { type: 'vm' },
    async (e) => {
      if (!e.vm_id) return;
      const id = e.vm_id;
      let vm: Vm | null = null;
      try {
        vm = await client.getVm(id);
      } catch (err) {
        if (!isNotFound(err)) return;
      }
      setVms((list) => {
        if (!list) return list;
        const at = list.findIndex((v) => v.id === id);
        const keep = vm && matches(vm, current.current);
        if (at >= 0 && keep) return list.map((v) => (v.id === id ? vm! : v));
        if (at >= 0) {
          setTotal((t) => Math.max(0, t - 1));
          return list.filter((v) => v.id !== id);
        }
        if (keep) {
          setTotal((t) => t + 1);
          return [vm!, ...list].sort(newestFirst);
        }
        return list;
      });
    },
    load,
  );

  return (
    <main id="main" class="page">
      <div class="page-head">
        <h1>Virtual machines</h1>
        {canOperate(props.principal) && (
          <Link href="/vms/new" class="button button-primary">
            Create VM
          </Link>
        )}
      </div>
      <form class="filters" aria-label="Filter VMs" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="filter-search">Search</label>
          <input
            id="filter-search"
            type="search"
            placeholder="Name or id"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
            <option value="">Any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-label">Label</label>
          <input
            id="filter-label"
            placeholder="key=value or key"
            value={filters.label}
            onChange={(e) => setFilters({ ...filters, label: e.currentTarget.value.trim() })}
          />
        </div>
      </form>
      <ErrorNote error={error} />
      <p class="count" aria-live="polite">
        {vms === null ? 'Loading…' : `${total} VM${total === 1 ? '' : 's'}`}
      </p>
      <div class="table-wrap">
        <table class="table vm-table">
          <colgroup>
            <col class="col-name" />
            <col class="col-status" />
            <col class="col-host" />
            <col class="col-resources" />
            <col class="col-labels" />
          </colgroup>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Host</th>
              <th scope="col">Resources</th>
              <th scope="col">Labels</th>
            </tr>
          </thead>
          <tbody>
            {vms?.map((vm) => (
              <tr key={vm.id} data-vm-id={vm.id} data-vm-name={vm.name}>
                <td class="cell-name">
                  <Link href={`/vms/${vm.id}`}>{vm.name}</Link> <span class="muted">#{vm.number}</span>
                </td>
                <td>
                  <StatusBadge status={vm.status} />
                </td>
                <td class="cell-host">{vm.host_id ? (hostNames[vm.host_id] ?? vm.host_id.slice(0, 8)) : '—'}</td>
                <td>
                  {vm.cpu_cores} vCPU · {memory(vm.memory_mb)} · {vm.disk_gb} GB
                  {vm.gpus && vm.gpus.count > 0 ? ` · ${vm.gpus.count} GPU` : ''}
                </td>
                <td>
                  <LabelList labels={vm.labels} />
                </td>
              </tr>
            ))}
            {vms?.length === 0 && (
              <tr>
                <td colSpan={5} class="empty">
                  No VMs{filters.status || filters.label || filters.search ? ' match these filters' : ' yet'}.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </main>
  );
}
