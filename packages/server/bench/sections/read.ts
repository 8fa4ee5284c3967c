import { type LoadResult, load } from '../lib/load.js';
import { cpuMs, type Proc, rss } from '../lib/processes.js';

export interface ReadResults {
  trpc: LoadResult;
  rest: LoadResult;
  baseline: LoadResult;
  ratio_trpc: number;
  ratio_rest: number;
  /**
   * The server's own CPU time per request, in µs (user + system, from /proc): steadier than
   * requests per second on a small shared machine, where the load generator and PostgreSQL
   * compete for the same cores.
   */
  cpu_us: { trpc: number; rest: number; baseline: number };
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
  const measured = async (proc: Proc, url: string, headers?: Record<string, string>) => {
    const cpu0 = await cpuMs(proc.pid);
    const result = await load(url, { ...c, headers });
    return { result, cpu_us: (((await cpuMs(proc.pid)) - cpu0) * 1000) / Math.max(1, result.requests) };
  };
  const before = await measured(opts.baseline, `${opts.baseline.url}/vms/${opts.vmId}`);
  const trpc = await measured(opts.hangar, `${opts.hangar.url}/trpc/vms.get?input=${input}`, auth);
  const rest = await measured(opts.hangar, `${opts.hangar.url}/api/v1/vms/${opts.vmId}`, auth);
  clearInterval(sampler);
  const after = await measured(opts.baseline, `${opts.baseline.url}/vms/${opts.vmId}`);
  const baseline: LoadResult = {
    rps: (before.result.rps + after.result.rps) / 2,
    p50_ms: (before.result.p50_ms + after.result.p50_ms) / 2,
    p99_ms: (before.result.p99_ms + after.result.p99_ms) / 2,
    requests: before.result.requests + after.result.requests,
    failures: before.result.failures + after.result.failures,
  };
  for (const [name, r] of Object.entries({ trpc: trpc.result, rest: rest.result, baseline })) {
    if (r.failures > 0) throw new Error(`read path ${name}: ${r.failures} failed requests`);
  }
  return {
    trpc: trpc.result,
    rest: rest.result,
    baseline,
    ratio_trpc: trpc.result.rps / baseline.rps,
    ratio_rest: rest.result.rps / baseline.rps,
    cpu_us: { trpc: trpc.cpu_us, rest: rest.cpu_us, baseline: (before.cpu_us + after.cpu_us) / 2 },
    rss_under_load: peak,
  };
}
