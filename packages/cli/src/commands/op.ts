import { type Operation, OperationFailedError } from '@hangar/sdk';
import { type Command, Option } from 'commander';
import { connect } from '../connection.js';
import { optionsOf, positiveInt, type WaitFlags, waitSettings } from '../options.js';
import { printJson } from '../output/json.js';
import { outputMode } from '../output/mode.js';
import { printDetails, printTable } from '../output/table.js';
import { formatAge } from '../output/units.js';
import { resolveVmId } from '../vm-ref.js';
import { followOperation } from '../wait/operation.js';

const STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;

const OP_HEAD = ['ID', 'VM', 'ACTION', 'STATUS', 'ERROR', 'AGE'];
const opRow = (o: Operation) => [o.id, o.vm_id, o.action, o.status, o.error, formatAge(o.created_at)];

async function printOperation(op: Operation, json: boolean): Promise<void> {
  if (json) return printJson(op);
  await printDetails([
    ['id', op.id],
    ['vm', op.vm_id],
    ['action', op.action],
    ['status', op.status],
    ['error', op.error],
    ['attempts', op.attempts],
    ['input', Object.keys(op.input).length ? JSON.stringify(op.input) : ''],
    ['created', op.created_at],
    ['started', op.started_at],
    ['finished', op.finished_at],
    ['deadline', op.deadline_at],
  ]);
}

export function registerOp(program: Command): void {
  const op = program.command('op').description('operations: the durable jobs that carry out VM changes');

  op.command('ls')
    .description('list operations, newest first')
    .option('--vm <vm>', "only this VM's (id or name)")
    .addOption(new Option('--status <status>', 'only operations in this status').choices(STATUSES))
    .option('--limit <n>', 'at most this many', positiveInt, 20)
    .action(async (_flags, self: Command) => {
      const opts = optionsOf<{ vm?: string; status?: Operation['status']; limit: number }>(self);
      const client = await connect(opts);
      const vm_id = opts.vm ? await resolveVmId(client, opts.vm) : undefined;
      const ops: Operation[] = [];
      for await (const o of client.listOperations({ vm_id, status: opts.status, limit: Math.min(opts.limit, 100) })) {
        if (ops.length >= opts.limit) break;
        ops.push(o);
      }
      if (outputMode(opts) === 'json') return printJson(ops);
      await printTable(OP_HEAD, ops.map(opRow));
    });

  op.command('get')
    .description("show an operation's details")
    .argument('<id>', 'the operation id')
    .action(async (id: string, _flags, self: Command) => {
      const opts = optionsOf(self);
      const client = await connect(opts);
      await printOperation(await client.getOperation(id), outputMode(opts) === 'json');
    });

  op.command('wait')
    .description('wait until an operation has finished (exit 0 succeeded, 6 failed or cancelled)')
    .argument('<id>', 'the operation id')
    .option('--wait-timeout <seconds>', 'give up waiting after this long (exit 7)', positiveInt, 600)
    .action(async (id: string, _flags, self: Command) => {
      const opts = optionsOf<WaitFlags>(self);
      const client = await connect(opts);
      const started = await client.getOperation(id);
      const done = await followOperation(client, started, `${started.action} (operation ${id})`, waitSettings(opts));
      await printOperation(done, outputMode(opts) === 'json');
      if (done.status !== 'succeeded') {
        throw new OperationFailedError(`${done.action} ${done.status}: ${done.error ?? 'no reason given'}`, done, null);
      }
    });
}
