import type { VmStatus } from '@hangar/core';

/**
 * libvirt's `virDomainState`, the `state` the earlier API listed for each VM (the number
 * `virDomain.state()` gave it).
 */
export const DOMAIN_STATE = {
  nostate: 0,
  running: 1,
  blocked: 2,
  paused: 3,
  shutdown: 4,
  shutoff: 5,
  crashed: 6,
  pmsuspended: 7,
} as const;

/**
 * A VM's status as the domain state libvirt would report for it. A status that exists only
 * while an operation runs is the state the domain is in meanwhile: still off while it starts,
 * is changed or exported, still running while it pauses or reboots, still paused while it
 * resumes, "being shut down" while it stops. A VM with no domain yet (provisioning), one going
 * away (deleting) and one whose domain could not be read (unknown) have no state. Hangar never
 * reports a blocked or PM-suspended guest, so 2 and 7 are not given.
 */
const BY_STATUS: Record<VmStatus, number> = {
  provisioning: DOMAIN_STATE.nostate,
  unknown: DOMAIN_STATE.nostate,
  deleting: DOMAIN_STATE.nostate,
  deleted: DOMAIN_STATE.nostate,
  running: DOMAIN_STATE.running,
  restarting: DOMAIN_STATE.running,
  pausing: DOMAIN_STATE.running,
  paused: DOMAIN_STATE.paused,
  resuming: DOMAIN_STATE.paused,
  stopping: DOMAIN_STATE.shutdown,
  stopped: DOMAIN_STATE.shutoff,
  starting: DOMAIN_STATE.shutoff,
  updating: DOMAIN_STATE.shutoff,
  exporting: DOMAIN_STATE.shutoff,
  error: DOMAIN_STATE.crashed,
};

export function domainState(status: VmStatus): number {
  return BY_STATUS[status];
}
