import { agentRouter } from './routers/agent.js';
import { apiKeysRouter } from './routers/api-keys.js';
import { authRouter } from './routers/auth.js';
import { eventsRouter } from './routers/events.js';
import { gpusRouter } from './routers/gpus.js';
import { hostsRouter } from './routers/hosts.js';
import { imagesRouter } from './routers/images.js';
import { joinTokensRouter } from './routers/join-tokens.js';
import { operationsRouter } from './routers/operations.js';
import { projectsRouter } from './routers/projects.js';
import { usersRouter } from './routers/users.js';
import { vmsRouter } from './routers/vms.js';
import { router } from './trpc/init.js';

export const appRouter = router({
  auth: authRouter,
  api_keys: apiKeysRouter,
  projects: projectsRouter,
  users: usersRouter,
  vms: vmsRouter,
  operations: operationsRouter,
  events: eventsRouter,
  images: imagesRouter,
  gpus: gpusRouter,
  hosts: hostsRouter,
  join_tokens: joinTokensRouter,
  agent: agentRouter,
});

/** The API's type: what the SDK and any tRPC client are typed against. */
export type AppRouter = typeof appRouter;
