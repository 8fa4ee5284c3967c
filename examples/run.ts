/** `pnpm example <name>`: runs examples/<name>.ts against HANGAR_URL with HANGAR_API_KEY. */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`Usage: pnpm example <name>\nExamples: ${available.join(', ')}`);
  process.exit(2);
}
await import(`./${name}.ts`);
