export { libvirtDefinition } from './definition.js';
// The driver class is not exported here: a server loads it, with its XML libraries, only when
// it is chosen (`definition.ts`). Import it from `@hangar/core/drivers/libvirt`.
export type { DomainTypeSetting, LibvirtDriverOptions } from './driver.js';
