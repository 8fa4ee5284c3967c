export { chooseGpus, type GpuCandidate } from './gpu-choice.js';
export { fitGpus, type GpuFit, type Placement, placeVm } from './place.js';
export {
  type GpuNeed,
  HOST_HEARTBEAT_TIMEOUT_S,
  type PlacementRequest,
  type PlacementStrategy,
  type Resources,
  release,
  reserve,
} from './reserve.js';
