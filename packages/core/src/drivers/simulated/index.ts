export { Client, type ClientOptions, type VmInfo } from './client.js';
export { SimulatedHypervisor, type SimulatorConfig, type SimDomain, type SimVmSpec } from './hypervisor.js';
export { SimulatedDriver } from './driver.js';
export * from './errors.js';
export { HYPERVISOR_METHODS, type HypervisorMethod, type FaultConfig, type InjectedFault } from './faults.js';
