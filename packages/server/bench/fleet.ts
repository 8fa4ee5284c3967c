/**
 * `pnpm --filter @hangar/server bench:fleet`: the fleet section of `pnpm bench` alone, at 1, 10,
 * 100 and 1,000 hosts (or the sizes given: --sizes 1,10), on an embedded PostgreSQL or the
 * server --database-url names.
 */
import { parseArgs } from 'node:util';
import { fleetPath } from './sections/fleet.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10,100,1000' },
    'database-url': { type: 'string' },
    idle: { type: 'string', default: '15' },
  },
});
const points = await fleetPath({
  adminUrl: values['database-url'] ?? process.env.DATABASE_URL,
  sizes: values.sizes!.split(',').map(Number),
  creates: 200,
  samples: 100,
  idle_s: Number(values.idle),
  log: (m) => process.stderr.write(`[bench] ${m}\n`),
});
console.log('hosts  place/s  claim p50  claim p99  idle stmt/s  per host');
for (const p of points) {
  console.log(
    [
      String(p.hosts).padStart(5),
      p.placement_per_s.toFixed(0).padStart(7),
      `${p.claim_p50_ms.toFixed(1)} ms`.padStart(9),
      `${p.claim_p99_ms.toFixed(1)} ms`.padStart(9),
      p.idle_statements_per_s.toFixed(1).padStart(11),
      p.idle_statements_per_s_per_host.toFixed(3).padStart(9),
    ].join('  '),
  );
}
