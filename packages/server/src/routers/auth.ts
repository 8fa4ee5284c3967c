import { errors, Principal, TokenRequest, TokenResponse } from '@hangar/core';
import { router } from '../trpc/init.js';
import { publicProcedure, viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

export const authRouter = router({
  /** Username and password for a short-lived access token (a JWT). */
  token: publicProcedure
    .meta(
      route('POST', '/token', 'Exchange a username and password for an access token (OAuth2 password grant)', { public: true, form: true }),
    )
    .input(TokenRequest)
    .output(TokenResponse)
    .mutation(({ ctx, input }) => {
      // A batch of sign-ins would make one request into many password guesses.
      if (++ctx.info.logins > 1)
        throw errors.validation('One sign-in per request: send auth.token on its own', [
          { path: '(batch)', message: 'more than one auth.token call' },
        ]);
      return ctx.auth.login(input.username, input.password, ctx.info.ip);
    }),

  whoami: viewerProcedure
    .meta(route('GET', '/whoami', 'Who the credentials belong to'))
    .output(Principal)
    .query(({ ctx }) => ctx.principal),
});
