import { Principal, TokenRequest, TokenResponse } from '@hangar/core';
import { router } from '../trpc/init.js';
import { publicProcedure, viewerProcedure } from '../trpc/procedures.js';

export const authRouter = router({
  /** Username and password for a short-lived access token (a JWT). */
  token: publicProcedure
    .input(TokenRequest)
    .output(TokenResponse)
    .mutation(({ ctx, input }) => ctx.auth.login(input.username, input.password, ctx.info.ip)),

  whoami: viewerProcedure.output(Principal).query(({ ctx }) => ctx.principal),
});
