import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';

/** Where and how to reach one libvirtd, from a connection URI. */
export interface LibvirtTarget {
  /** The URI as given (no secrets: libvirt URIs carry none). */
  uri: string;
  /** The name `CONNECT_OPEN` gets: the URI without transport and host (`qemu:///system`). */
  name: string;
  /** Whether libvirtd runs on this machine (its files are ours to reach). */
  local: boolean;
  /** Opens a byte stream to libvirtd. */
  open(signal?: AbortSignal): Promise<Duplex>;
  /** For ssh: the command line run to reach the host. */
  command?: string[];
}

// A host name or address, a user name: what ssh should take as one, and nothing that reads as an option.
const HOST = /^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|[0-9a-f:.]+)$/i;
const USER = /^[a-z0-9_][a-z0-9._-]*$/i;

const DEFAULT_TCP_PORT = 16509;

/**
 * Parses a libvirt connection URI: `qemu:///system` (the local daemon's socket),
 * `qemu+unix:///system?socket=/path`, `qemu+tcp://host[:port]/system` (libvirtd listening on
 * TCP with auth none; SASL is not spoken) and `qemu+ssh://[user@]host[:port]/system` (ssh
 * runs `virt-ssh-helper` on the host, as libvirt's own client does). Throws with the reason for
 * anything else; the settings schema reports it against `HANGAR_LIBVIRT_URI`.
 */
export function parseLibvirtUri(uri: string): LibvirtTarget {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new Error(`not a URI: ${JSON.stringify(uri)}`);
  }
  const [driver, transport = u.hostname ? 'tls' : 'unix'] = u.protocol.replace(/:$/, '').split('+') as [string, string?];
  if (driver !== 'qemu') throw new Error(`only qemu:// URIs are supported (got ${driver}://)`);
  if (u.pathname !== '/system' && u.pathname !== '/session')
    throw new Error(`the path must be /system or /session (got ${u.pathname || 'none'})`);
  const name = `qemu://${u.pathname}`;
  for (const key of u.searchParams.keys()) {
    if (key !== 'socket') throw new Error(`unsupported URI parameter ${key}`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host && !HOST.test(host)) throw new Error(`not a host name: ${JSON.stringify(host)}`);
  const user = decodeURIComponent(u.username);
  if (user && !USER.test(user)) throw new Error(`not a user name: ${JSON.stringify(user)}`);
  const port = u.port ? Number(u.port) : null;
  switch (transport) {
    case 'unix': {
      if (host) throw new Error('a unix socket URI names no host');
      const socket = u.searchParams.get('socket') ?? defaultSocket(u.pathname);
      return { uri, name, local: true, open: (signal) => dial(() => connect(socket), `libvirtd's socket ${socket}`, signal) };
    }
    case 'tcp': {
      if (!host) throw new Error('a qemu+tcp URI needs a host');
      return {
        uri,
        name,
        local: false,
        open: (signal) =>
          dial(() => connect({ host, port: port ?? DEFAULT_TCP_PORT }), `libvirtd at ${host}:${port ?? DEFAULT_TCP_PORT}`, signal),
      };
    }
    case 'ssh': {
      if (!host) throw new Error('a qemu+ssh URI needs a host');
      const args = ['-T', '-o', 'BatchMode=yes', '-e', 'none'];
      if (port) args.push('-p', String(port));
      if (user) args.push('-l', user);
      // `--` ends ssh's options; the remote command is fixed words (the name is rebuilt from the path checked above).
      args.push('--', host, 'virt-ssh-helper', name);
      return { uri, name, local: false, command: ['ssh', ...args], open: (signal) => viaSsh(args, signal) };
    }
    default:
      throw new Error(`transport ${transport} is not supported (use unix, tcp or ssh)`);
  }
}

function defaultSocket(path: string): string {
  if (path === '/session') {
    const runtime = process.env.XDG_RUNTIME_DIR ?? join(homedir(), '.cache');
    return join(runtime, 'libvirt', existsSync(join(runtime, 'libvirt', 'virtqemud-sock')) ? 'virtqemud-sock' : 'libvirt-sock');
  }
  // Hosts with libvirt's modular daemons run virtqemud; the others, the monolithic libvirtd.
  return existsSync('/run/libvirt/virtqemud-sock') ? '/run/libvirt/virtqemud-sock' : '/run/libvirt/libvirt-sock';
}

function dial(make: () => import('node:net').Socket, what: string, signal?: AbortSignal): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = make();
    const onAbort = () => {
      s.destroy();
      reject(new Error(`connecting to ${what} was cancelled`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      // Stays until the RPC connection adds its own: an error in between must not go unhandled.
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot reach ${what}: ${err.message}`));
    });
  });
}

async function viaSsh(args: string[], signal?: AbortSignal): Promise<Duplex> {
  if (signal?.aborted) throw new Error('connecting over ssh was cancelled');
  // No `signal` for spawn: it would kill ssh whenever the signal fires, long after connecting.
  // Past the spawn, the RPC open's own timeout bounds a connection that never answers.
  const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`cannot run ssh: ${err.message}`)));
  });
  const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
  child.once('exit', (code) => stream.destroy(new Error(`ssh exited with ${code}${stderr ? `: ${stderr.trim()}` : ''}`)));
  // Every stream gets an error handler; the connection reports the failure.
  child.stdin.on('error', () => {});
  child.on('error', () => {});
  return stream;
}
