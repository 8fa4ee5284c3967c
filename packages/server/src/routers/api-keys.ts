import { ApiKey, CreateApiKeyInput, CreatedApiKey, IdRequest } from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

export const apiKeysRouter = router({
  /** A new key for yourself (or, for admins, another user of the project); the secret is shown once. */
  create: viewerProcedure
    .meta(route('POST', '/api-keys', 'Create an API key (the secret is shown once)', { status: 201 }))
    .input(CreateApiKeyInput)
    .output(CreatedApiKey)
    .mutation(({ ctx, input }) => ctx.services.api_keys.create(ctx.principal, input)),
  list: viewerProcedure
    .meta(route('GET', '/api-keys', 'List API keys'))
    .output(z.array(ApiKey))
    .query(({ ctx }) => ctx.services.api_keys.list(ctx.principal)),
  revoke: viewerProcedure
    .meta(route('DELETE', '/api-keys/{id}', 'Revoke an API key'))
    .input(IdRequest)
    .output(ApiKey)
    .mutation(({ ctx, input }) => ctx.services.api_keys.revoke(ctx.principal, input.id)),
});
