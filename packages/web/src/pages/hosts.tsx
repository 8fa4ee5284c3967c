import type { Client, Host, Principal } from '@hangar/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { messageOf } from '../api.js';
import { ErrorNote } from '../components/error-note.js';
import { LabelList } from '../components/label-list.js';
import { StatusBadge } from '../components/status-badge.js';
import { memory, when } from '../format.js';
import { useWatch } from '../live.js';

function HostCard(props: { host: Host }) {
  const h = props.host;
  return (
    <section class="card host" aria-labelledby={`host-${h.id}`} data-host-name={h.name}>
      <div class="page-head">
        <h2 id={`host-${h.id}`}>{h.name}</h2>
        <StatusBadge status={h.status} />
        {h.draining ? <span class="tag">draining</span> : h.cordoned ? <span class="tag">cordoned</span> : null}
      </div>
      {h.status_reason && <p class="notice">{h.status_reason}</p>}
      <dl class="details">
        <dt>Driver</dt>
        <dd>
          {h.driver}
          {h.agent_version ? ` (agent ${h.agent_version})` : ''}
        </dd>
        <dt>CPUs</dt>
        <dd>
          {h.allocated.cpus} of {h.capacity.cpus} allocated
        </dd>
        <dt>Memory</dt>
        <dd>
          {memory(h.allocated.memory_mb)} of {memory(h.capacity.memory_mb)}
        </dd>
        <dt>Disk</dt>
        <dd>
          {h.allocated.disk_gb} of {h.capacity.disk_gb} GB
        </dd>
        <dt>Labels</dt>
        <dd>
          <LabelList labels={h.labels} />
        </dd>
        <dt>Last seen</dt>
        <dd>{when(h.last_seen_at)}</dd>
        <dt>GPUs</dt>
        <dd>{h.gpus.length === 0 ? 'none' : `${h.gpus_free} free, ${h.gpus_used} in use`}</dd>
      </dl>
      {h.gpus.length > 0 && (
        <table class="table">
          <caption class="visually-hidden">GPUs of {h.name}</caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Model</th>
              <th scope="col">NUMA</th>
              <th scope="col">Driver</th>
              <th scope="col">Health</th>
              <th scope="col">Held by</th>
            </tr>
          </thead>
          <tbody>
            {h.gpus.map((g) => (
              <tr key={g.id}>
                <td class="mono">{g.address}</td>
                <td class="wrap">{[g.vendor, g.model].filter(Boolean).join(' ') || `${g.vendor_id}:${g.device_id}`}</td>
                <td>{g.numa_node ?? '—'}</td>
                <td>{g.driver ?? '—'}</td>
                <td>
                  <StatusBadge status={g.health} />
                  {g.health_reason ? ` ${g.health_reason}` : ''}
                </td>
                <td class="mono">{g.vm_id ? g.vm_id.slice(0, 8) : 'free'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The fleet's hosts and their GPUs: global admins only. */
export function Hosts(props: { client: Client; principal: Principal }) {
  const [hosts, setHosts] = useState<Host[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const admin = props.principal.global_admin;
  const load = useCallback(async () => {
    if (!admin) return;
    try {
      setHosts(await props.client.listHosts());
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [props.client, admin]);
  useEffect(() => {
    load();
  }, [load]);
  useWatch(props.client, admin ? { type: 'host', all_projects: true } : null, load, load);

  return (
    <main id="main" class="page">
      <h1>Hosts</h1>
      {!admin ? (
        <p class="notice" data-testid="hosts-admin-only">
          Hosts and their GPUs are shown to global admins only.
        </p>
      ) : (
        <>
          <ErrorNote error={error} />
          {hosts === null && !error && <p class="muted">Loading…</p>}
          {hosts?.length === 0 && <p class="muted">No hosts.</p>}
          {hosts?.map((h) => (
            <HostCard key={h.id} host={h} />
          ))}
        </>
      )}
    </main>
  );
}
