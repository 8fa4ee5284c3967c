import { randomBytes } from 'node:crypto';

/** A random MAC address in QEMU's locally administered prefix 52:54:00. */
export function randomMac(): string {
  return ['52', '54', '00', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
