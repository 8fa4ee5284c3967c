import type { Host, Principal, Vm, VmConfig } from '@hangar/core';
import type { NativeCalls } from '../native-calls.js';
import type { ConfigView, VmView } from './shapes.js';

/** The hosts a caller may see, by id: all of them for a global admin, none for anyone else. */
export type HostsById = ReadonlyMap<string, Pick<Host, 'number' | 'name'>>;

/**
 * Hosts are fleet infrastructure, readable by global admins only; for anyone else a VM's
 * `server` shows nulls rather than a 403 for the whole VM. Read once per request, not per VM.
 */
export async function visibleHosts(native: NativeCalls, principal: Principal): Promise<HostsById> {
  if (!principal.global_admin) return new Map();
  const hosts = await native.call<Host[]>('hosts.list');
  return new Map(hosts.map((h) => [h.id, { number: h.number, name: h.name }]));
}

/** A native VM as the earlier API showed one: its number as `id`, its resources and network grouped. */
export function vmView(vm: Vm, hosts: HostsById): VmView {
  const host = vm.host_id ? hosts.get(vm.host_id) : undefined;
  return {
    id: vm.number,
    name: vm.name,
    uuid: vm.id,
    status: vm.status,
    server: { id: host?.number ?? null, hostname: host?.name ?? null },
    resources: { cpu_cores: vm.cpu_cores, memory_mb: vm.memory_mb, disk_gb: vm.disk_gb },
    network: { ip_address: vm.network.ip_address, mac_address: vm.network.mac_address },
    os_type: vm.os_type,
    os_version: vm.os_version,
    vnc_port: vm.vnc_port,
    created_at: vm.created_at,
    updated_at: vm.updated_at,
  };
}

/** A native VM configuration as the config routes showed it: `network` as `network_config`. */
export function configView(vm: Pick<Vm, 'number' | 'id'>, config: VmConfig): ConfigView {
  return {
    id: vm.number,
    name: config.name,
    uuid: vm.id,
    cpu_cores: config.cpu_cores,
    memory_mb: config.memory_mb,
    disk_gb: config.disk_gb,
    os_type: config.os_type,
    os_version: config.os_version,
    vnc_enabled: config.vnc_enabled,
    vnc_port: config.vnc_port,
    network_config: { type: config.network.type, bridge_name: config.network.bridge_name },
    xml_config: config.xml_config,
  };
}
