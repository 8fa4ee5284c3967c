import { Host, IdRequest, UnmanagedDomain } from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { globalAdminProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

/** The hypervisor hosts: fleet infrastructure, so global admins only. */
export const hostsRouter = router({
  list: globalAdminProcedure
    .meta(route('GET', '/hosts', 'List hypervisor hosts, with their status and why one is offline (global admins)'))
    .output(z.array(Host))
    .query(({ ctx }) => ctx.services.hosts.list()),
  get: globalAdminProcedure
    .meta(route('GET', '/hosts/{id}', 'A hypervisor host (global admins)'))
    .input(IdRequest)
    .output(Host)
    .query(({ ctx, input }) => ctx.services.hosts.get(input.id)),
  unmanaged_domains: globalAdminProcedure
    .meta(
      route('GET', '/hosts/{id}/unmanaged-domains', 'Domains on a host that Hangar does not manage (global admins)', {
        description:
          'Domains defined on the hypervisor without Hangar’s metadata (by another tool, or by hand). Hangar lists them and never touches them.',
      }),
    )
    .input(IdRequest)
    .output(z.array(UnmanagedDomain))
    .query(({ ctx, input }) => ctx.services.hosts.unmanaged(input.id)),
});
