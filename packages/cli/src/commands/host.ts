import type { Command } from 'commander';
import { connect } from '../connection.js';
import { optionsOf } from '../options.js';
import { printJson } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { printTable } from '../output/table.js';
import { formatAge, formatLabels } from '../output/units.js';

export function registerHost(program: Command): void {
  const host = program.command('host').description('hypervisor hosts (global admins)');

  host
    .command('ls')
    .description('list hosts with their capacity, allocation and status')
    .action(async (_flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      const hosts = await client.listHosts();
      if (outputMode(opts) === 'json') return printJson(hosts);
      await printTable(
        ['ID', 'NAME', 'DRIVER', 'STATUS', 'CPUS', 'MEMORY', 'DISK', 'GPUS', 'LABELS', 'SEEN'],
        hosts.map((h) => [
          h.id,
          h.name,
          h.driver,
          h.draining ? `${h.status},draining` : h.cordoned ? `${h.status},cordoned` : h.status,
          `${h.allocated.cpus}/${h.capacity.cpus}`,
          `${h.allocated.memory_mb}/${h.capacity.memory_mb} MiB`,
          `${h.allocated.disk_gb}/${h.capacity.disk_gb} GiB`,
          h.gpus.length ? `${h.gpus_used}/${h.gpus.length}` : '',
          formatLabels(h.labels),
          formatAge(h.last_seen_at),
        ]),
      );
    });
}
