import { CreateUserInput, User } from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

export const usersRouter = router({
  create: viewerProcedure
    .meta(route('POST', '/users', 'Create a user', { status: 201 }))
    .input(CreateUserInput)
    .output(User)
    .mutation(({ ctx, input }) => ctx.services.users.create(ctx.principal, input)),
  list: viewerProcedure
    .meta(route('GET', '/users', 'List users'))
    .output(z.array(User))
    .query(({ ctx }) => ctx.services.users.list(ctx.principal)),
});
