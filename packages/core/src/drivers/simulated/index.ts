export { SimulatorClient, type SimulatorClientOptions, type VmInfo } from './client.js';
export { simulatedDefinition } from './definition.js';
export { readStore as readSimulatorStore } from './domain-store.js';
export { SimulatedDriver } from './driver.js';
export * from './errors.js';
export { type FaultConfig, HYPERVISOR_METHODS, type HypervisorMethod, type InjectedFault } from './faults.js';
export { MAX_SIM_GPUS, SimGpusSetting, simGpus } from './gpus.js';
export { type SimDomain, SimulatedHypervisor, type SimulatorConfig, type SimVmSpec } from './hypervisor.js';
