import type { WatchEvent } from '@hangar/sdk';
import type { Command } from 'commander';
import { connect } from '../connection.js';
import { Interrupted, interruptible } from '../interrupt.js';
import { collect, optionsOf } from '../options.js';
import { printJsonLine } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { resolveVmId } from '../vm-ref.js';

/**
 * One event as a line for people. Not a cli-table3 table: a stream has no end to size its
 * columns by, so the columns are padded to fixed widths instead.
 */
function eventLine(e: WatchEvent): string {
  const change = e.from_status || e.to_status ? `${e.from_status ?? '-'} -> ${e.to_status ?? '-'}` : '';
  const subject = e.vm_id ?? e.image_id ?? e.host_id ?? '-';
  return [e.created_at, subject.padEnd(36), e.type.padEnd(24), change.padEnd(26), e.message].join('  ').trimEnd();
}

export function registerWatch(vm: Command): void {
  vm.command('watch')
    .description("follow VM events as they happen (one VM's, or all the project's); Ctrl-C ends it")
    .argument('[vm]', 'only this VM (id or name)')
    .option('--label <selector>', 'only VMs with this label: key=value or key (repeatable)', collect)
    .option('--type <type>', 'only events of this type (vm.status_changed) or kind (vm, operation, image, host); repeatable', collect)
    .option('--after <position>', "replay what came after this event's id in the stream (0: everything kept), then go live")
    .option('--all-projects', "every project's events and the hosts' (global admins)")
    .action(async (ref: string | undefined, _flags, self: Command) => {
      const opts = optionsOf<{ label?: string[]; type?: string[]; after?: string; allProjects?: boolean }>(self);
      const client = await connect(opts);
      const vm_id = ref ? await resolveVmId(client, ref) : undefined;
      const json = outputMode(opts) === 'json';
      try {
        await interruptible(async (signal) => {
          for await (const event of client.watch(
            { vm_id, label: opts.label, type: opts.type, after: opts.after, all_projects: opts.allProjects },
            { signal },
          )) {
            if (json) printJsonLine(event);
            else process.stdout.write(`${eventLine(event)}\n`);
          }
          // The SDK ends the iteration quietly when the signal fires; Ctrl-C is still an interruption.
          if (signal.aborted) throw signal.reason;
        });
      } catch (err) {
        // Ctrl-C is how a watch ends: exit 130 as documented, without a message to read.
        if (err instanceof Interrupted) throw new Interrupted('', null);
        throw err;
      }
    });
}
