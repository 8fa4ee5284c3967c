import type { Vm } from '@hangar/sdk';
import { memory, when } from '../format.js';
import { LabelList } from './label-list.js';
import { StatusBadge } from './status-badge.js';

export function VmDetails(props: { vm: Vm; hostName?: string }) {
  const { vm } = props;
  return (
    <dl class="details">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={vm.status} />
      </dd>
      <dt>Id</dt>
      <dd class="mono">{vm.id}</dd>
      <dt>Host</dt>
      <dd>{vm.host_id ? (props.hostName ?? vm.host_id) : '—'}</dd>
      <dt>Resources</dt>
      <dd>
        {vm.cpu_cores} vCPU · {memory(vm.memory_mb)} · {vm.disk_gb} GB disk
      </dd>
      <dt>GPUs</dt>
      <dd>
        {vm.gpus && vm.gpus.count > 0
          ? `${vm.gpus.count}${vm.gpus.model ? ` × ${vm.gpus.model}` : ''} (holding ${vm.gpu_devices.length}: ${vm.gpu_devices.map((g) => g.address).join(', ') || 'none'})`
          : 'none'}
      </dd>
      <dt>Operating system</dt>
      <dd>
        {vm.os_type}
        {vm.os_version ? ` ${vm.os_version}` : ''}
      </dd>
      <dt>Network</dt>
      <dd>
        {vm.network.type}
        {vm.network.ip_address ? ` · ${vm.network.ip_address}` : ''}
        {vm.network.mac_address ? ` · ${vm.network.mac_address}` : ''}
        {vm.public_ip ? ` · public ${vm.public_ip}` : ''}
      </dd>
      <dt>Labels</dt>
      <dd>
        <LabelList labels={vm.labels} />
      </dd>
      <dt>Created</dt>
      <dd>{when(vm.created_at)}</dd>
      <dt>Updated</dt>
      <dd>{when(vm.updated_at)}</dd>
      {vm.last_error && (
        <>
          <dt>Last error</dt>
          <dd class="wrap">{vm.last_error}</dd>
        </>
      )}
    </dl>
  );
}
