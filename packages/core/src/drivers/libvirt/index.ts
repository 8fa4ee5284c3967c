export { libvirtDefinition } from './definition.js';
export { type DomainTypeSetting, LibvirtDriver, type LibvirtDriverOptions } from './driver.js';
