import type { Accel } from './accel.js';
import type { DomainRecord } from './domain-record.js';
import type { VmLayout } from './layout.js';
import { options, optionValue } from './qemu-options.js';

/** Boot every VM straight from this kernel (appliances, and the tests' tiny guest). */
export interface DirectBoot {
  kernel: string;
  initrd?: string;
  append?: string;
}

/**
 * QEMU's arguments for a domain. QEMU stays up when the control plane exits. Each argument is
 * one argv entry (no shell); values inside option strings are escaped by `options`.
 */
export function qemuArgs(
  record: DomainRecord,
  files: VmLayout,
  opts: {
    accel: Accel;
    boot?: DirectBoot;
    /** Host PCI devices handed to the guest with VFIO: the preflight's answer (GPUs and their cards' other functions). */
    hostdevs?: string[];
  },
): string[] {
  const args = [
    '-name',
    `${optionValue(record.name)},process=qemu-${optionValue(record.vm_id)}`,
    '-uuid',
    record.vm_id,
    '-accel',
    opts.accel,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-m',
    String(record.memory_mb),
    '-smp',
    String(record.cpu_cores),
    '-chardev',
    options('socket', { id: 'qmp', path: files.qmp, server: 'on', wait: 'off' }),
    '-mon',
    'chardev=qmp,mode=control',
    '-chardev',
    options('socket', { id: 'serial0', path: files.serial, server: 'on', wait: 'off', logfile: files.console, logappend: 'on' }),
    '-serial',
    'chardev:serial0',
    '-pidfile',
    files.pidfile,
    '-drive',
    options(null, { file: files.disk, if: 'none', id: 'disk0', format: 'qcow2', cache: 'writeback' }),
    '-device',
    'virtio-blk-pci,drive=disk0,bootindex=1',
  ];
  if (record.iso_path) {
    args.push(
      '-drive',
      options(null, { file: record.iso_path, if: 'none', id: 'cd0', media: 'cdrom', readonly: 'on', format: 'raw' }),
      // A direct kernel boot holds boot index 0 itself.
      '-device',
      options('ide-cd', { drive: 'cd0', bootindex: opts.boot ? undefined : 0 }),
    );
  }
  const net = record.network;
  args.push(
    '-netdev',
    net.type === 'bridge' ? options('bridge', { id: 'net0', br: net.bridge_name ?? '' }) : 'user,id=net0',
    '-device',
    options('virtio-net-pci', { netdev: 'net0', mac: net.mac_address }),
  );
  for (const [i, address] of (opts.hostdevs ?? []).entries()) {
    args.push('-device', options('vfio-pci', { host: address, id: `hostdev${i}` }));
  }
  if (record.vnc) {
    // A unix socket in the VM's private directory: a TCP console on 127.0.0.1 (security type
    // None) was open to every local user and to NAT guests through 10.0.2.2.
    args.push('-device', 'VGA', '-vnc', `unix:${optionValue(files.vnc)}`);
  }
  if (opts.boot) {
    args.push('-kernel', opts.boot.kernel);
    if (opts.boot.initrd) args.push('-initrd', opts.boot.initrd);
    if (opts.boot.append) args.push('-append', opts.boot.append);
  }
  return args;
}

/**
 * The program and arguments that start QEMU: under `taskset` when the VM's vCPUs belong on
 * certain CPUs (its GPUs' NUMA node), so every thread QEMU makes inherits that affinity.
 */
export function launchArgv(binary: string, args: string[], cpus: string | null): string[] {
  return cpus === null ? [binary, ...args] : ['taskset', '--cpu-list', cpus, binary, ...args];
}
