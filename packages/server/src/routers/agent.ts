import {
  AgentHelloRequest,
  AgentImage,
  AgentJoinAnswer,
  AgentJoinRequest,
  CheckpointRequest,
  ClaimRequest,
  DeferRequest,
  HostReport,
  ImageWaitRequest,
  LeaseRequest,
  ReportedChange,
  ReportedEnding,
  WorkItem,
} from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { agentProcedure, publicProcedure } from '../trpc/procedures.js';
import { waitSignal } from '../trpc/settle.js';

/**
 * The agent protocol (`hangar agent` to the API): tRPC procedures with no REST route, so they
 * stay out of the public API's document. Inputs are parsed again by the service (the schemas of
 * `domain/agent.ts`): an agent's report crosses a trust boundary.
 */
export const agentRouter = router({
  join: publicProcedure
    .input(AgentJoinRequest)
    .output(AgentJoinAnswer)
    .mutation(({ ctx, input }) => ctx.services.agents.join(input)),
  hello: agentProcedure.input(AgentHelloRequest).mutation(({ ctx, input }) => ctx.services.agents.hello(ctx.agent, input)),
  report: agentProcedure
    .input(HostReport)
    .output(z.object({ inventory_wanted: z.boolean() }))
    .mutation(({ ctx, input }) => ctx.services.agents.report(ctx.agent, input)),
  domain_changed: agentProcedure.input(ReportedChange).mutation(({ ctx, input }) => ctx.services.agents.domainChanged(ctx.agent, input)),
  claim: agentProcedure
    .input(ClaimRequest)
    .output(WorkItem.nullable())
    .mutation(({ ctx, input, signal }) =>
      // Bounded per host like a user's waits: claims held at once cost a socket and a listener each.
      ctx.waits.holdFor(`host:${ctx.agent.host_id}`, () => ctx.services.agents.claim(ctx.agent, input, waitSignal(ctx, signal))),
    ),
  renew: agentProcedure
    .input(LeaseRequest)
    .output(z.object({ held: z.boolean() }))
    .mutation(({ ctx, input }) => ctx.services.agents.renew(ctx.agent, input)),
  finish: agentProcedure
    .input(ReportedEnding)
    .output(z.object({ ended: z.boolean() }))
    .mutation(({ ctx, input }) => ctx.services.agents.finish(ctx.agent, input)),
  defer: agentProcedure
    .input(DeferRequest)
    .output(z.object({ deferred: z.boolean() }))
    .mutation(({ ctx, input }) => ctx.services.agents.defer(ctx.agent, input)),
  checkpoint: agentProcedure.input(CheckpointRequest).mutation(({ ctx, input }) => ctx.services.agents.checkpoint(ctx.agent, input)),
  image: agentProcedure
    .input(ImageWaitRequest)
    .output(AgentImage.nullable())
    .mutation(({ ctx, input, signal }) =>
      ctx.waits.holdFor(`host:${ctx.agent.host_id}`, () => ctx.services.agents.image(ctx.agent, input, waitSignal(ctx, signal))),
    ),
});
