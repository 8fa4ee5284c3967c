import { CreatedJoinToken, CreateJoinTokenInput, IdRequest, JoinToken } from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { globalAdminProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

/** Tokens `hangar agent` joins the fleet with: global admins only. */
export const joinTokensRouter = router({
  create: globalAdminProcedure
    .meta(
      route('POST', '/join-tokens', 'Make a token hosts join the fleet with (global admins)', {
        description: 'Give the token to `hangar agent` as HANGAR_JOIN_TOKEN; it is shown once.',
      }),
    )
    .input(CreateJoinTokenInput)
    .output(CreatedJoinToken)
    .mutation(({ ctx, input }) => ctx.services.join_tokens.create(ctx.principal.username, input)),
  list: globalAdminProcedure
    .meta(route('GET', '/join-tokens', 'List join tokens (global admins)'))
    .output(z.array(JoinToken))
    .query(({ ctx }) => ctx.services.join_tokens.list()),
  revoke: globalAdminProcedure
    .meta(route('DELETE', '/join-tokens/{id}', 'Revoke a join token: hosts that joined with it keep their credentials (global admins)'))
    .input(IdRequest)
    .output(JoinToken)
    .mutation(({ ctx, input }) => ctx.services.join_tokens.revoke(input.id)),
});
