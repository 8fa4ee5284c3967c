/**
 * The read path's baseline: what `vms.get` costs with nothing of Hangar around it. A bare Hono
 * route, one primary-key SELECT through postgres.js, the row as JSON; no auth, no validation,
 * no logging. Served by @hono/node-server like Hangar, in a process started the same way.
 */

import { connectPostgres } from '@hangar/core';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const sql = connectPostgres(process.env.DATABASE_URL!, { max: 20 });
const app = new Hono();
app.get('/healthz', (c) => c.json({ ok: true }));
app.get('/vms/:id', async (c) => {
  const [row] = await sql`SELECT * FROM vms WHERE id = ${c.req.param('id')}`;
  return row ? c.json(row) : c.json({ detail: 'not found' }, 404);
});
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void sql.end().finally(() => process.exit(0)));
