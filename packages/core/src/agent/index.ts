export { HostAgent, type HostAgentOptions } from './host-agent.js';
export type { AgentLink } from './link.js';
export { RemoteQueue, type RemoteQueueOptions } from './remote-queue.js';
