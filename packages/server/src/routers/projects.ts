import { CreateProjectInput, errors, IdRequest, Project, ProjectQuotas, SetQuotasRequest } from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { globalAdminProcedure, viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

export const projectsRouter = router({
  /** Every project for a global admin; your own otherwise. */
  list: viewerProcedure
    .meta(route('GET', '/projects', 'List projects'))
    .output(z.array(Project))
    .query(async ({ ctx }) =>
      ctx.principal.global_admin ? ctx.services.projects.list() : [await ctx.services.projects.get(ctx.principal.project_id)],
    ),
  create: globalAdminProcedure
    .meta(route('POST', '/projects', 'Create a project', { status: 201 }))
    .input(CreateProjectInput)
    .output(Project)
    .mutation(({ ctx, input }) => ctx.services.projects.create(input)),

  /** Your own project's quotas and usage; a global admin sees any project's. */
  get_quotas: viewerProcedure
    .meta(route('GET', '/projects/{id}/quotas', "A project's quotas and what it uses of them"))
    .input(IdRequest)
    .output(ProjectQuotas)
    .query(({ ctx, input }) => {
      if (input.id !== ctx.principal.project_id && !ctx.principal.global_admin) throw errors.notFound('Project', input.id);
      return ctx.services.projects.quotas(input.id);
    }),

  set_quotas: globalAdminProcedure
    .meta(
      route('PUT', '/projects/{id}/quotas', "Set a project's quotas (global admins)", {
        description:
          'Every limit at once: a limit left out (or null) is unlimited. Lowering one below what is in use stops growth and removes nothing.',
      }),
    )
    .input(SetQuotasRequest)
    .output(ProjectQuotas)
    .mutation(({ ctx, input }) => {
      const { id, ...limits } = input;
      return ctx.services.projects.set_quotas(id, limits);
    }),
});
