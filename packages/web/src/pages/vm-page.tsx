import type { Client, Operation, Principal, Vm, VmActionResult, VmEvent } from '@hangar/sdk';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { canOperate, isNotFound, messageOf } from '../api.js';
import { ConsoleLog } from '../components/console-log.js';
import { ErrorNote } from '../components/error-note.js';
import { EventsTable } from '../components/events-table.js';
import { LazyConsole } from '../components/lazy-console.js';
import { Link } from '../components/link.js';
import { OperationsTable } from '../components/operations-table.js';
import { ResizeForm } from '../components/resize-form.js';
import { StatusBadge } from '../components/status-badge.js';
import { Tabs } from '../components/tabs.js';
import { VmActions } from '../components/vm-actions.js';
import { VmConfig } from '../components/vm-config.js';
import { VmDetails } from '../components/vm-details.js';
import { useHostNames } from '../hosts.js';
import { useWatch } from '../live.js';
import { NotFound } from './not-found.js';

type Tab = 'overview' | 'operations' | 'events' | 'config' | 'log' | 'console';
const TABS: { id: Tab; label: string }[] = [
  { id: 'overview', label: 'Overview' },
  { id: 'operations', label: 'Operations' },
  { id: 'events', label: 'Events' },
  { id: 'config', label: 'Config' },
  { id: 'log', label: 'Serial log' },
  { id: 'console', label: 'Console' },
];

/** One VM: details and actions, its operations and events, config, serial log and screen; kept current from the watch stream. */
export function VmPage(props: { client: Client; principal: Principal; id: string }) {
  const { client, id } = props;
  const [vm, setVm] = useState<Vm | null>(null);
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [operations, setOperations] = useState<Operation[]>([]);
  const [events, setEvents] = useState<VmEvent[]>([]);
  const [tab, setTab] = useState<Tab>('overview');
  const hostNames = useHostNames(client, props.principal);
  const operator = canOperate(props.principal);

  const loadVm = useCallback(async () => {
    try {
      setVm(await client.getVm(id));
      setError(null);
    } catch (err) {
      if (isNotFound(err)) setMissing(true);
      else setError(messageOf(err));
    }
  }, [client, id]);
  const loadHistory = useCallback(async () => {
    const [ops, evs] = await Promise.all([client.listOperations({ vm_id: id }), client.listEvents(id)]).catch(() => [null, null]);
    if (ops) setOperations(ops.operations);
    if (evs) setEvents(evs);
  }, [client, id]);

  useEffect(() => {
    setVm(null);
    setMissing(false);
    loadVm();
    loadHistory();
  }, [loadVm, loadHistory]);

  const refresh = () => {
    loadVm();
    loadHistory();
  };
  useWatch(client, { vm_id: id }, refresh, refresh);

  const onResult = (r: VmActionResult) => {
    setVm(r.vm);
    loadHistory();
  };

  if (missing) return <NotFound what="VM" />;
  if (!vm)
    return (
      <main id="main" class="page">
        <ErrorNote error={error} />
        {!error && <p class="muted">Loading…</p>}
      </main>
    );

  return (
    <main id="main" class="page">
      <p class="crumbs">
        <Link href="/">Virtual machines</Link> / {vm.name}
      </p>
      <div class="page-head">
        <h1>{vm.name}</h1>
        <StatusBadge status={vm.status} />
      </div>
      <ErrorNote error={error} />
      {operator && vm.status !== 'deleted' && <VmActions client={client} vm={vm} onResult={onResult} onRefused={refresh} />}
      {/* The serial log and the screen are operators' (the API refuses viewers): not offered to viewers. */}
      <Tabs label="VM" tabs={operator ? TABS : TABS.filter((t) => t.id !== 'log' && t.id !== 'console')} current={tab} onChange={setTab}>
        {tab === 'overview' && (
          <div class="overview">
            <VmDetails vm={vm} hostName={vm.host_id ? hostNames[vm.host_id] : undefined} />
            {operator && vm.allowed_actions.includes('update_hardware') && (
              <ResizeForm key={`${vm.id}-${vm.version}`} client={client} vm={vm} onResult={onResult} />
            )}
          </div>
        )}
        {tab === 'operations' && <OperationsTable operations={operations} />}
        {tab === 'events' && <EventsTable events={events} />}
        {tab === 'config' && <VmConfig client={client} vmId={vm.id} version={vm.version} />}
        {tab === 'log' && <ConsoleLog client={client} vmId={vm.id} />}
        {tab === 'console' && <LazyConsole client={client} vmId={vm.id} viewOnly={!operator} />}
      </Tabs>
    </main>
  );
}
