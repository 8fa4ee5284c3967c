import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Client, CreateVmSpec, ListVmsQuery, Vm, VmActionResult, VmStatus } from '@hangar/sdk';
import { type Command, Option } from 'commander';
import { connect } from '../connection.js';
import { Interrupted, interruptible } from '../interrupt.js';
import { addWaitOptions, collect, keyValue, optionsOf, positiveInt, type WaitFlags, waitSettings } from '../options.js';
import { printJson } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { printDetails, printTable } from '../output/table.js';
import { formatAge, formatBytes, formatLabels } from '../output/units.js';
import { startBytesBar } from '../progress/bytes-bar.js';
import { countBytes, countingTransform } from '../progress/counting.js';
import { showProgress } from '../progress/tty.js';
import { UsageError } from '../usage-error.js';
import { resolveVmId } from '../vm-ref.js';
import { settle } from '../wait/operation.js';
import { registerWatch } from './watch.js';

const VM_STATUSES = [
  'stopped',
  'running',
  'paused',
  'error',
  'unknown',
  'deleted',
  'provisioning',
  'starting',
  'stopping',
  'restarting',
  'pausing',
  'resuming',
  'updating',
  'exporting',
  'deleting',
] as const satisfies readonly VmStatus[];
const OS_TYPES = ['linux', 'windows', 'other'] as const;

const VM_HEAD = ['#', 'ID', 'NAME', 'STATUS', 'CPUS', 'MEMORY', 'DISK', 'IP', 'LABELS', 'AGE'];
const vmRow = (vm: Vm) => [
  vm.number,
  vm.id,
  vm.name,
  vm.status,
  vm.cpu_cores,
  `${vm.memory_mb} MiB`,
  `${vm.disk_gb} GiB`,
  vm.public_ip ?? vm.network.ip_address,
  formatLabels(vm.labels),
  formatAge(vm.created_at),
];

async function printVm(vm: Vm, json: boolean): Promise<void> {
  if (json) return printJson(vm);
  await printDetails([
    ['id', vm.id],
    ['number', vm.number],
    ['name', vm.name],
    ['status', vm.status],
    ['cpus', vm.cpu_cores],
    ['memory', `${vm.memory_mb} MiB`],
    ['disk', `${vm.disk_gb} GiB`],
    ['os', [vm.os_type, vm.os_version].filter(Boolean).join(' ')],
    ['host', vm.host_id],
    ['network', [vm.network.type, vm.network.mac_address, vm.network.ip_address].filter(Boolean).join(' ')],
    ['public ip', vm.public_ip],
    ['labels', formatLabels(vm.labels)],
    ['image', vm.image_id],
    ['iso', vm.iso_image_id],
    ['gpus', vm.gpu_devices.map((g) => `${g.address} ${g.model}`).join(', ')],
    ['vnc', vm.vnc_enabled ? (vm.vnc_port ?? 'on') : 'off'],
    ['allowed actions', vm.allowed_actions.join(', ')],
    ['operation', vm.current_operation_id],
    ['last error', vm.last_error],
    ['version', vm.version],
    ['created', vm.created_at],
    ['updated', vm.updated_at],
  ]);
}

/** A VM action's answer: JSON as the SDK gave it; for people the VM, and the operation still running if it is. */
async function printResult(result: VmActionResult, json: boolean): Promise<void> {
  if (json) return printJson(result);
  await printTable(VM_HEAD, [vmRow(result.vm)]);
  const op = result.operation;
  if (op && (op.status === 'pending' || op.status === 'running')) {
    process.stdout.write(`operation ${op.id} (${op.action}) is ${op.status}; wait for it with: hgr op wait ${op.id}\n`);
  }
}

type ActionFlags = WaitFlags & { json?: boolean; output?: string; progress?: boolean };

/**
 * `hgr vm <action> <vm>` for the actions that take the VM and a few flags: resolve the VM,
 * call the SDK, follow the operation with `--wait`, print.
 */
function action<F extends ActionFlags>(
  vm: Command,
  name: string,
  description: string,
  send: (client: Client, id: string, flags: F) => Promise<VmActionResult>,
  configure: (cmd: Command) => Command = (c) => c,
): Command {
  const cmd = configure(vm.command(name).description(description).argument('<vm>', 'the VM: its id, its number or its name'));
  addWaitOptions(cmd).action(async (ref: string, _flags: F, self: Command) => {
    const opts = optionsOf<F>(self);
    const client = await connect(opts);
    const id = await resolveVmId(client, ref);
    const result = await settle(client, await send(client, id, opts), `${name} ${ref}`, opts.wait, waitSettings(opts));
    await printResult(result, outputMode(opts) === 'json');
  });
  return cmd;
}

const sizeOptions = (cmd: Command) =>
  cmd
    .option('--cpu <cores>', 'virtual CPUs', positiveInt)
    .option('--memory <mib>', 'memory in MiB', positiveInt)
    .option('--disk <gib>', 'disk in GiB', positiveInt);

export function registerVm(program: Command): void {
  const vm = program.command('vm').description('virtual machines: list, create, power, resize, export, import, delete, watch');

  vm.command('ls')
    .description('list VMs (every page)')
    .addOption(new Option('--status <status...>', 'only VMs in one of these statuses').choices(VM_STATUSES))
    .option('--label <selector>', 'only VMs with this label: key=value or key (repeatable)', collect)
    .option('--host <host>', 'only VMs on this host (id, number or name)')
    .option('--search <text>', 'only VMs whose name contains this')
    .option('--include-deleted', 'list deleted VMs too')
    .option('--limit <n>', 'at most this many', positiveInt)
    .action(async (_flags, self: Command) => {
      const opts = optionsOf<{
        status?: string[];
        label?: string[];
        host?: string;
        search?: string;
        includeDeleted?: boolean;
        limit?: number;
      }>(self);
      const client = await connect(opts);
      const query: ListVmsQuery = {
        per_page: 100,
        status: opts.status as VmStatus[] | undefined,
        label: opts.label,
        host_id: opts.host,
        search: opts.search,
        include_deleted: opts.includeDeleted,
      };
      const vms: Vm[] = [];
      for await (const v of client.listVms(query)) {
        if (opts.limit !== undefined && vms.length >= opts.limit) break;
        vms.push(v);
      }
      if (outputMode(opts) === 'json') return printJson(vms);
      await printTable(VM_HEAD, vms.map(vmRow));
    });

  vm.command('get')
    .description("show a VM's details")
    .argument('<vm>', 'the VM: its id, its number or its name')
    .action(async (ref: string, _flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      await printVm(await client.getVm(await resolveVmId(client, ref)), outputMode(opts) === 'json');
    });

  const create = sizeOptions(vm.command('create').description('create a VM (stopped unless --start)').argument('<name>', 'its name'))
    .addOption(new Option('--os-type <type>', 'the guest OS family').choices(OS_TYPES))
    .option('--os-version <version>', 'the guest OS version, for people')
    .option('--label <key=value>', 'a label (repeatable)', keyValue)
    .option('--image <id>', 'an image from the store: a disk image becomes its disk, an ISO its CD-ROM')
    .option('--iso-url <url>', 'boot from this ISO, downloaded into the image store once')
    .option('--host <host>', 'place it on this host, by id, number or name (global admins)')
    .option('--public-ip <ip>', 'its public address')
    .option('--start', 'start it once it is provisioned');
  addWaitOptions(create).action(async (name: string, _flags, self: Command) => {
    const opts = optionsOf<
      ActionFlags & {
        cpu?: number;
        memory?: number;
        disk?: number;
        osType?: string;
        osVersion?: string;
        label?: Record<string, string>;
        image?: string;
        isoUrl?: string;
        host?: string;
        publicIp?: string;
        start?: boolean;
      }
    >(self);
    const client = await connect(opts);
    const spec: CreateVmSpec = {
      name,
      cpu_cores: opts.cpu,
      memory_mb: opts.memory,
      disk_gb: opts.disk,
      os_type: opts.osType as CreateVmSpec['os_type'],
      os_version: opts.osVersion,
      labels: opts.label,
      image_id: opts.image,
      iso_url: opts.isoUrl,
      host_id: opts.host,
      public_ip: opts.publicIp,
      start: opts.start,
    };
    const result = await settle(client, await client.createVm(spec), `create ${name}`, opts.wait, waitSettings(opts));
    await printResult(result, outputMode(opts) === 'json');
  });

  action(vm, 'start', 'start a stopped VM', (c, id) => c.startVm(id));
  action<ActionFlags & { force?: boolean; timeout?: number; releaseGpus?: boolean }>(
    vm,
    'stop',
    'stop a VM: ACPI power-off, forced off after --timeout (--force: at once)',
    (c, id, f) => (f.force ? c.forceStopVm(id) : c.stopVm(id, { timeout_s: f.timeout, release_gpus: f.releaseGpus })),
    (cmd) =>
      cmd
        .option('--force', 'power off at once (cancels an operation in flight)')
        .option('--timeout <seconds>', 'force it off after this long (default 30)', positiveInt)
        .option('--release-gpus', "give the VM's GPUs back to its host"),
  );
  action<ActionFlags & { force?: boolean; timeout?: number }>(
    vm,
    'restart',
    'restart a running VM (graceful unless --force)',
    (c, id, f) => c.restartVm(id, { force: f.force, timeout_s: f.timeout }),
    (cmd) =>
      cmd.option('--force', 'power-cycle without asking the guest').option('--timeout <seconds>', 'force it after this long', positiveInt),
  );
  action(vm, 'reset', 'hard-reset a running VM', (c, id) => c.resetVm(id));
  action(vm, 'pause', 'pause a running VM', (c, id) => c.pauseVm(id));
  action(vm, 'resume', 'resume a paused VM', (c, id) => c.resumeVm(id));
  action<ActionFlags & { cpu?: number; memory?: number; disk?: number }>(
    vm,
    'resize',
    'change the CPUs, memory or disk of a stopped VM (disks only grow)',
    (c, id, f) => {
      if (f.cpu === undefined && f.memory === undefined && f.disk === undefined) {
        throw new UsageError('give at least one of --cpu, --memory, --disk');
      }
      return c.resizeVm(id, { cpu_cores: f.cpu, memory_mb: f.memory, disk_gb: f.disk });
    },
    sizeOptions,
  );
  action<ActionFlags & { keepDisks?: boolean; force?: boolean }>(
    vm,
    'rm',
    'delete a VM (it stays readable with status deleted)',
    (c, id, f) => c.deleteVm(id, { delete_disks: !f.keepDisks, force: f.force }),
    (cmd) => cmd.option('--keep-disks', 'leave its disks on the host').option('--force', 'cancel an operation in flight'),
  );

  vm.command('export')
    .description('export a stopped VM as a tar archive (tar.gz with --gzip)')
    .argument('<vm>', 'the VM: its id, its number or its name')
    .option('-o, --out <file>', 'where to write it ("-": stdout); default <name>.tar[.gz]')
    .option('--gzip', 'compress it')
    .action(async (ref: string, _flags, self: Command) => {
      const opts = optionsOf<{ out?: string; gzip?: boolean }>(self);
      const json = outputMode(opts) === 'json';
      if (opts.out === '-' && json) throw new UsageError('--out - writes the archive to stdout, where --json would go too');
      const client = await connect(opts);
      const id = await resolveVmId(client, ref);
      const vm = await client.getVm(id);
      const file = opts.out ?? `${vm.name}.tar${opts.gzip ? '.gz' : ''}`;
      const toStdout = file === '-';
      const bar = await startBytesBar(`export ${vm.name}`, null, showProgress(opts));
      const counter = countingTransform((n) => bar.update(n));
      const dest: Writable = toStdout ? process.stdout : createWriteStream(file, { mode: 0o600 });
      const written = pipeline(counter, dest, { end: !toStdout });
      try {
        const result = await interruptible((signal) =>
          client.exportVm(id, { stream: counter, compress: opts.gzip ? 'gzip' : undefined, signal }),
        );
        await written;
        bar.stop();
        if (toStdout) return;
        if (json) return printJson({ ...result, file });
        process.stdout.write(`exported ${vm.name} to ${file} (${formatBytes(result.bytes)})\n`);
      } catch (err) {
        bar.stop();
        counter.destroy();
        await written.catch(() => {});
        // A cut-off archive is worse than none: it looks like an export and fails on import.
        if (!toStdout) await rm(file, { force: true });
        if (err instanceof Interrupted) throw new Interrupted(`Export cancelled; ${vm.name} is stopped again.`, null);
        throw err;
      }
    });

  vm.command('import')
    .description('create a VM (stopped) from an exported archive')
    .argument('<file>', 'the archive, tar or tar.gz ("-": stdin)')
    .option('--name <name>', "the new VM's name (default: the one in the archive)")
    .action(async (file: string, _flags, self: Command) => {
      const opts = optionsOf<{ name?: string }>(self);
      const client = await connect(opts);
      const progress = showProgress(opts);
      const size = file === '-' ? null : (await stat(file)).size;
      const bar = await startBytesBar(`import ${file === '-' ? 'stdin' : file}`, size, progress);
      try {
        // By path the SDK may send it again after a refusal that did no work; a counted stream is read once.
        const source =
          file === '-' ? countBytes(process.stdin, bar.update) : progress ? countBytes(createReadStream(file), bar.update) : file;
        const created = await interruptible((signal) => client.importVm(source, { name: opts.name, signal }));
        bar.stop();
        if (outputMode(opts) === 'json') return printJson(created);
        await printTable(VM_HEAD, [vmRow(created)]);
      } catch (err) {
        bar.stop();
        if (err instanceof Interrupted) throw new Interrupted('Import cancelled; no VM was created.', null);
        throw err;
      }
    });

  vm.command('events')
    .description("a VM's history, oldest first")
    .argument('<vm>', 'the VM: its id, its number or its name')
    .option('--after <event-id>', 'only events after this one', positiveInt)
    .action(async (ref: string, _flags, self: Command) => {
      const opts = optionsOf<{ after?: number }>(self);
      const client = await connect(opts);
      const events = await client.listEvents(await resolveVmId(client, ref), { after: opts.after, limit: 500 }).toArray();
      if (outputMode(opts) === 'json') return printJson(events);
      await printTable(
        ['ID', 'TIME', 'TYPE', 'FROM', 'TO', 'MESSAGE'],
        events.map((e) => [e.id, e.created_at, e.type, e.from_status, e.to_status, e.message]),
      );
    });

  vm.command('console-log')
    .description("the end of what a VM's guest wrote to its serial console")
    .argument('<vm>', 'the VM: its id, its number or its name')
    .option('--tail-bytes <bytes>', 'how much of the end of the log (at most 1 MiB)', positiveInt, 64 * 1024)
    .action(async (ref: string, _flags, self: Command) => {
      const opts = optionsOf<{ tailBytes: number }>(self);
      const client = await connect(opts);
      const log = await client.getConsoleLog(await resolveVmId(client, ref), { tail_bytes: opts.tailBytes });
      if (outputMode(opts) === 'json') return printJson(log);
      // The log as the guest wrote it; that it is only its end goes to stderr, out of a pipe's way.
      if (log.truncated) process.stderr.write(`(the last ${log.text.length} characters of ${log.size_bytes} bytes)\n`);
      process.stdout.write(log.text.endsWith('\n') || log.text === '' ? log.text : `${log.text}\n`);
    });

  registerWatch(vm);
}
