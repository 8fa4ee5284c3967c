import { afterEach, describe, expect, it } from 'vitest';
import { finishOperation, Reconciler, silentLogger, type Telemetry, Worker } from '../src/index.js';
import { startTestControlPlane, type TestControlPlane } from '../src/testing/index.js';

// The telemetry hooks are told what happened, once it is committed, and only what happened:
// a takeover is a claim from a holder whose lease ran out, not any second claim.

/** Telemetry that remembers what it was told. */
class Recorder implements Telemetry {
  readonly told: [hook: string, what: unknown][] = [];
  operationEnded(e: unknown) {
    this.told.push(['operationEnded', e]);
  }
  leaseTakenOver(e: unknown) {
    this.told.push(['leaseTakenOver', e]);
  }
  driftCorrected(e: unknown) {
    this.told.push(['driftCorrected', e]);
  }
  imageDownloadStarted() {
    this.told.push(['imageDownloadStarted', null]);
  }
  imageDownloadBytes(n: number) {
    this.told.push(['imageDownloadBytes', n]);
  }
  imageDownloadFinished(e: unknown) {
    this.told.push(['imageDownloadFinished', e]);
  }
  hooks(name: string) {
    return this.told.filter(([h]) => h === name).map(([, e]) => e);
  }
}

let cp: TestControlPlane | undefined;
afterEach(async () => {
  await cp?.shutdown();
  cp = undefined;
});

const small = { memory_mb: 128, disk_gb: 1, cpu_cores: 1 };

describe('telemetry hooks', () => {
  it("tell of a takeover from a worker whose lease expired, and of the heir's ending alone", async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const r = await cp.services.vms.create(cp.scope, { name: 'orphan', ...small });
    const deadTelemetry = new Recorder();
    const doomed = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 200, logger: silentLogger, telemetry: deadTelemetry });
    const claimed = await doomed.claim();
    expect(claimed?.id).toBe(r.operation!.id);
    expect(deadTelemetry.told).toEqual([]);

    const telemetry = new Recorder();
    const heir = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 5_000, logger: silentLogger, telemetry });
    expect(await heir.claim()).toBeNull(); // the lease still holds
    await new Promise((resolve) => setTimeout(resolve, 300));
    const taken = await heir.claim();
    expect(taken?.id).toBe(r.operation!.id);
    expect(telemetry.told).toEqual([['leaseTakenOver', { action: 'create' }]]);

    // The dead worker's late ending is refused, and not counted.
    const late = await finishOperation(
      cp.database.db,
      r.operation!,
      doomed.id,
      { result: 'succeeded', outcome: { status: 'stopped' } },
      deadTelemetry,
    );
    expect(late).toBe(false);
    expect(deadTelemetry.told).toEqual([]);
    expect(
      await finishOperation(cp.database.db, r.operation!, heir.id, { result: 'succeeded', outcome: { status: 'stopped' } }, telemetry),
    ).toBe(true);
    expect(telemetry.hooks('operationEnded')).toEqual([{ action: 'create', result: 'succeeded', duration_s: expect.any(Number) }]);
    expect((telemetry.hooks('operationEnded')[0] as { duration_s: number }).duration_s).toBeGreaterThanOrEqual(0.3);
  });

  it('count no takeover of an operation released at a graceful stop, or claimed the first time', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const r = await cp.services.vms.create(cp.scope, { name: 'handed-over', ...small });
    const telemetry = new Recorder();
    const first = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 60_000, logger: silentLogger, telemetry });
    expect((await first.claim())?.id).toBe(r.operation!.id);
    await first.queue.release();
    const next = new Worker({ db: cp.database.db, drivers: cp.drivers, lease_ms: 60_000, logger: silentLogger, telemetry });
    const again = await next.claim();
    expect(again).toMatchObject({ id: r.operation!.id, attempts: 2 });
    expect(telemetry.hooks('leaseTakenOver')).toEqual([]);
  });

  it('tell of a drift the reconciler corrects, from and to', async () => {
    cp = await startTestControlPlane({ worker: false, reconciler: false });
    const telemetry = new Recorder();
    const r = await cp.services.vms.create(cp.scope, { name: 'crashing', start: true, ...small });
    await new Worker({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger, telemetry }).drain();
    expect(telemetry.hooks('operationEnded')).toEqual([{ action: 'create', result: 'succeeded', duration_s: expect.any(Number) }]);
    const reconciler = new Reconciler({ db: cp.database.db, drivers: cp.drivers, logger: silentLogger, telemetry });
    expect(await reconciler.runOnce()).toMatchObject({ drifted: 0 });
    expect(telemetry.hooks('driftCorrected')).toEqual([]);
    cp.hypervisor.crash(await cp.domainRef(r.vm.id));
    expect(await reconciler.runOnce()).toMatchObject({ drifted: 1 });
    expect(telemetry.hooks('driftCorrected')).toEqual([{ from: 'running', to: 'stopped' }]);
  });
});
