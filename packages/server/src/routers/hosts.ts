import { DrainResult, Host, HostRequest, SetHostLabelsInput, UnmanagedDomain } from '@hangar/core';
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
    .meta(route('GET', '/hosts/{id}', 'A hypervisor host, by id or name (global admins)'))
    .input(HostRequest)
    .output(Host)
    .query(({ ctx, input }) => ctx.services.hosts.get(input.id)),
  unmanaged_domains: globalAdminProcedure
    .meta(
      route('GET', '/hosts/{id}/unmanaged-domains', 'Domains on a host that Hangar does not manage (global admins)', {
        description:
          'Domains defined on the hypervisor without Hangar’s metadata (by another tool, or by hand). Hangar lists them and never touches them.',
      }),
    )
    .input(HostRequest)
    .output(z.array(UnmanagedDomain))
    .query(({ ctx, input }) => ctx.services.hosts.unmanaged(input.id)),
  cordon: globalAdminProcedure
    .meta(route('POST', '/hosts/{id}/cordon', 'Cordon a host: no new VMs are placed on it (global admins)'))
    .input(HostRequest)
    .output(Host)
    .mutation(({ ctx, input }) => ctx.services.hosts.cordon(input.id)),
  uncordon: globalAdminProcedure
    .meta(route('POST', '/hosts/{id}/uncordon', 'Lift a cordon or a drain: the host takes new VMs again (global admins)'))
    .input(HostRequest)
    .output(Host)
    .mutation(({ ctx, input }) => ctx.services.hosts.uncordon(input.id)),
  drain: globalAdminProcedure
    .meta(
      route('POST', '/hosts/{id}/drain', 'Drain a host: cordon it and list what still runs there (global admins)', {
        description: 'Move or delete the VMs listed, then remove the host.',
      }),
    )
    .input(HostRequest)
    .output(DrainResult)
    .mutation(({ ctx, input }) => ctx.services.hosts.drain(input.id)),
  set_labels: globalAdminProcedure
    .meta(route('PUT', '/hosts/{id}/labels', "Replace a host's labels (global admins)"))
    .input(SetHostLabelsInput)
    .output(Host)
    .mutation(({ ctx, input }) => ctx.services.hosts.set_labels(input)),
  remove: globalAdminProcedure
    .meta(route('DELETE', '/hosts/{id}', "Remove an empty host and revoke its agent's credentials (global admins)"))
    .input(HostRequest)
    .output(Host)
    .mutation(({ ctx, input }) => ctx.services.hosts.remove(input.id)),
});
