import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Operation, Vm, VmActionResult, VmEvent } from '@hangar/sdk';
import { startTestServer, type TestServer } from '@hangar/server/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hgr, hgrJson, tempConfigHome } from './hgr.js';

let server: TestServer;
let env: Record<string, string>;
let work: string;
beforeAll(async () => {
  // Small simulated disks keep the export quick.
  server = await startTestServer({ sim_bytes_per_gb: 4096 });
  env = { HANGAR_URL: server.url, HANGAR_API_KEY: server.apiKey, XDG_CONFIG_HOME: await tempConfigHome() };
  work = await mkdtemp(join(tmpdir(), 'hgr-vm-'));
});
afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('hgr vm', () => {
  let vm: Vm;

  it('creates a VM with --wait and lists it as JSON', async () => {
    const created = await hgrJson<VmActionResult>(
      ['vm', 'create', 'web-1', '--cpu', '2', '--memory', '1024', '--disk', '10', '--label', 'env=test', '--wait'],
      {
        env,
      },
    );
    vm = created.vm;
    expect(vm).toMatchObject({ name: 'web-1', status: 'stopped', cpu_cores: 2, memory_mb: 1024, disk_gb: 10, labels: { env: 'test' } });
    expect(created.operation).toMatchObject({ action: 'create', status: 'succeeded' });

    const listed = await hgrJson<Vm[]>(['vm', 'ls', '--label', 'env=test'], { env });
    expect(listed.map((v) => v.id)).toEqual([vm.id]);
    // --output json is the same as --json
    const viaOutput = await hgr(['vm', 'ls', '--output', 'json'], { env });
    expect((JSON.parse(viaOutput.stdout) as Vm[]).map((v) => v.name)).toContain('web-1');

    const table = await hgr(['vm', 'ls'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^#\s+ID\s+NAME\s+STATUS/);
    expect(vm.number).toBe(1);
    expect(table.stdout).toMatch(new RegExp(`^1\\s+${vm.id}\\s+web-1\\s+stopped`, 'm'));
  });

  it('gets a VM by id, by number or by name; an unknown one exits 3', async () => {
    expect((await hgrJson<Vm>(['vm', 'get', vm.id], { env })).name).toBe('web-1');
    expect((await hgrJson<Vm>(['vm', 'get', 'web-1'], { env })).id).toBe(vm.id);
    expect((await hgrJson<Vm>(['vm', 'get', String(vm.number)], { env })).id).toBe(vm.id);
    const unknownNumber = await hgr(['vm', 'get', '999'], { env });
    expect(unknownNumber.code).toBe(3);
    expect(unknownNumber.stderr).toContain('No VM numbered or named 999');
    const details = await hgr(['vm', 'get', 'web-1'], { env });
    expect(details.stdout).toMatch(/status:\s+stopped/);

    const unknownId = await hgr(['vm', 'get', '00000000-0000-4000-8000-000000000000'], { env });
    expect(unknownId.code).toBe(3);
    expect(unknownId.stderr).toContain('VM_NOT_FOUND');
    expect((await hgr(['vm', 'get', 'no-such-vm'], { env })).code).toBe(3);

    // Under --json the error is JSON too, on stderr; stdout stays empty.
    const asJson = await hgr(['vm', 'get', '00000000-0000-4000-8000-000000000000', '--json'], { env });
    expect(asJson.stdout).toBe('');
    expect(JSON.parse(asJson.stderr)).toMatchObject({ error: { exit_code: 3, code: 'VM_NOT_FOUND', status: 404 } });
  });

  it('starts, pauses, resumes and stops it with --wait; a refused action exits 5', async () => {
    expect((await hgrJson<VmActionResult>(['vm', 'start', 'web-1', '--wait'], { env })).vm.status).toBe('running');
    expect((await hgrJson<VmActionResult>(['vm', 'pause', vm.id, '--wait'], { env })).vm.status).toBe('paused');
    expect((await hgrJson<VmActionResult>(['vm', 'resume', vm.id, '--wait'], { env })).vm.status).toBe('running');

    // Resizing a running VM: the state machine says no.
    const refused = await hgr(['vm', 'resize', vm.id, '--cpu', '4'], { env });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/INVALID_STATE|OPERATION_IN_PROGRESS/);

    expect((await hgrJson<VmActionResult>(['vm', 'stop', vm.id, '--wait', '--timeout', '5'], { env })).vm.status).toBe('stopped');
    const resized = await hgrJson<VmActionResult>(['vm', 'resize', vm.id, '--cpu', '4', '--wait'], { env });
    expect(resized.vm.cpu_cores).toBe(4);
  });

  it('answers at once without --wait, naming the operation to wait for', async () => {
    const r = await hgr(['vm', 'start', vm.id], { env });
    expect(r.code).toBe(0);
    const opId = /operation (\S+) \(start\) is (pending|running)/.exec(r.stdout)?.[1];
    expect(opId).toBeDefined();
    expect(r.stdout).toContain(`hgr op wait ${opId}`);
    expect((await hgrJson<Operation>(['op', 'wait', opId!], { env })).status).toBe('succeeded');
    expect((await hgrJson<VmActionResult>(['vm', 'stop', vm.id, '--wait'], { env })).vm.status).toBe('stopped');
  });

  it('lists, gets and waits for operations', async () => {
    const ops = await hgrJson<Operation[]>(['op', 'ls', '--vm', 'web-1'], { env });
    expect(ops.map((o) => o.action)).toEqual(expect.arrayContaining(['create', 'start', 'stop', 'pause', 'resume', 'update_hardware']));
    expect(ops.every((o) => o.vm_id === vm.id)).toBe(true);
    const one = ops[0]!;
    expect((await hgrJson<Operation>(['op', 'get', one.id], { env })).id).toBe(one.id);
    const waited = await hgr(['op', 'wait', one.id], { env });
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/status:\s+succeeded/);
    expect((await hgr(['op', 'get', '00000000-0000-4000-8000-000000000000'], { env })).code).toBe(3);
    expect((await hgrJson<Operation[]>(['op', 'ls', '--limit', '2'], { env })).length).toBe(2);
  });

  it("shows the VM's events", async () => {
    const events = await hgrJson<VmEvent[]>(['vm', 'events', 'web-1'], { env });
    expect(events[0]?.type).toBe('vm.created');
    expect(events.some((e) => e.type === 'vm.status_changed' && e.to_status === 'running')).toBe(true);
  });

  it("shows the end of the VM's console log", async () => {
    const shown = await hgr(['vm', 'console-log', 'web-1'], { env });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('web-1 login:');
    const tail = await hgrJson<{ text: string; truncated: boolean; size_bytes: number }>(
      ['vm', 'console-log', 'web-1', '--tail-bytes', '10'],
      {
        env,
      },
    );
    expect(tail.truncated).toBe(true);
    expect(Buffer.byteLength(tail.text)).toBeLessThanOrEqual(10);
    expect(tail.size_bytes).toBeGreaterThan(10);
    expect((await hgr(['vm', 'console-log', 'web-1', '--tail-bytes', '0'], { env })).code).toBe(2);
  });

  it('exports it to a file and imports it as a new VM', async () => {
    const file = join(work, 'web-1.tar');
    const exported = await hgrJson<{ bytes: number; file: string }>(['vm', 'export', 'web-1', '-o', file], { env });
    expect(exported.bytes).toBeGreaterThan(0);
    expect((await stat(file)).size).toBe(exported.bytes);

    const imported = await hgrJson<Vm>(['vm', 'import', file, '--name', 'web-1-copy'], { env });
    expect(imported).toMatchObject({ name: 'web-1-copy', status: 'stopped', cpu_cores: 4 });

    // A file that is not an archive: refused as invalid input (exit 2), no VM made.
    const junk = join(work, 'junk.tar');
    await writeFile(junk, 'not a tar archive at all');
    const bad = await hgr(['vm', 'import', junk], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('INVALID_ARCHIVE');
  });

  it('deletes VMs with --wait', async () => {
    const deleted = await hgrJson<VmActionResult>(['vm', 'rm', 'web-1', '--wait'], { env });
    expect(deleted.vm.status).toBe('deleted');
    expect((await hgr(['vm', 'rm', 'web-1-copy', '--wait'], { env })).code).toBe(0);
    expect(await hgrJson<Vm[]>(['vm', 'ls'], { env })).toEqual([]);
    // Deleted VMs are still there when asked for.
    expect((await hgrJson<Vm[]>(['vm', 'ls', '--include-deleted'], { env })).length).toBe(2);
  });
});

describe('hgr vm watch', () => {
  it('prints one JSON object per event as they happen, and ends on Ctrl-C with 130', async () => {
    const created = await hgrJson<VmActionResult>(['vm', 'create', 'watched', '--memory', '512', '--disk', '1', '--wait'], { env });
    const seen: { type: string; vm_id: string | null; to_status: string | null }[] = [];
    const r = await hgr(['vm', 'watch', 'watched', '--json', '--after', '0'], {
      env,
      onSpawn: (child) => {
        let buffered = '';
        let started = false;
        child.stdout!.on('data', (d: Buffer) => {
          buffered += d;
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) seen.push(JSON.parse(line));
          // The replay has come through: the stream is live. Start the VM, and stop watching once it runs.
          if (!started && seen.length) {
            started = true;
            void hgr(['vm', 'start', created.vm.id], { env });
          }
          if (seen.some((e) => e.to_status === 'running')) child.kill('SIGINT');
        });
      },
    });
    expect(r.code).toBe(130);
    expect(seen.every((e) => e.vm_id === created.vm.id)).toBe(true);
    expect(seen.map((e) => e.type)).toContain('vm.created');
    expect(seen.some((e) => e.type === 'vm.status_changed' && e.to_status === 'running')).toBe(true);
  });
});
