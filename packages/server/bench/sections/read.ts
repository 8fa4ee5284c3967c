import { type LoadResult, load } from '../lib/load.js';
import { type Proc, rss } from '../lib/processes.js';

export interface ReadResults {
  trpc: LoadResult;
  rest: LoadResult;
  baseline: LoadResult;
  ratio_trpc: number;
  ratio_rest: number;
  /** Hangar's server RSS at its peak during the runs. */
  rss_under_load: number;
}

/** `vms.get` over tRPC and REST against the bare route, one after the other, same connections and time. */
export async function readPath(opts: {
  hangar: Proc;
  baseline: Proc;
  apiKey: string;
  vmId: string;
  seconds: number;
  connections: number;
}): Promise<ReadResults> {
  const auth = { authorization: `Bearer ${opts.apiKey}` };
  const c = { connections: opts.connections, seconds: opts.seconds };
  let peak = 0;
  const sampler = setInterval(
    () =>
      void rss(opts.hangar.pid).then(
        (b) => (peak = Math.max(peak, b)),
        () => {},
      ),
    100,
  );
  // Warm-up: JIT, connection pools and the statement cache on both sides.
  await load(`${opts.hangar.url}/api/v1/vms/${opts.vmId}`, { ...c, seconds: 1, headers: auth });
  await load(`${opts.baseline.url}/vms/${opts.vmId}`, { ...c, seconds: 1 });
  const input = encodeURIComponent(JSON.stringify({ id: opts.vmId }));
  // The baseline runs before and after Hangar and counts as their mean: the machine's speed
  // drifts within a run, and this keeps the drift out of the ratio.
  const before = await load(`${opts.baseline.url}/vms/${opts.vmId}`, c);
  const trpc = await load(`${opts.hangar.url}/trpc/vms.get?input=${input}`, { ...c, headers: auth });
  const rest = await load(`${opts.hangar.url}/api/v1/vms/${opts.vmId}`, { ...c, headers: auth });
  clearInterval(sampler);
  const after = await load(`${opts.baseline.url}/vms/${opts.vmId}`, c);
  const baseline: LoadResult = {
    rps: (before.rps + after.rps) / 2,
    p50_ms: (before.p50_ms + after.p50_ms) / 2,
    p99_ms: (before.p99_ms + after.p99_ms) / 2,
    requests: before.requests + after.requests,
    failures: before.failures + after.failures,
  };
  for (const [name, r] of Object.entries({ trpc, rest, baseline })) {
    if (r.failures > 0) throw new Error(`read path ${name}: ${r.failures} failed requests`);
  }
  return { trpc, rest, baseline, ratio_trpc: trpc.rps / baseline.rps, ratio_rest: rest.rps / baseline.rps, rss_under_load: peak };
}
