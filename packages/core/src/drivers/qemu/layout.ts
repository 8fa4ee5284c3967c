import { join } from 'node:path';

/** Where one VM's files live: `<data dir>/vms/<id>/`. */
export function vmLayout(root: string, id: string) {
  const dir = join(root, id);
  return {
    dir,
    domain: join(dir, 'domain.json'),
    disk: join(dir, 'disk0.qcow2'),
    qmp: join(dir, 'qmp.sock'),
    serial: join(dir, 'serial.sock'),
    /** The VNC console: a unix socket, so only the control plane's user reaches it (no TCP port). */
    vnc: join(dir, 'vnc.sock'),
    console: join(dir, 'console.log'),
    pidfile: join(dir, 'qemu.pid'),
    log: join(dir, 'qemu.log'),
  };
}
export type VmLayout = ReturnType<typeof vmLayout>;

/** The kernel's limit for a unix socket path (sun_path is 108 bytes with its terminator). */
export const MAX_SOCKET_PATH = 107;
