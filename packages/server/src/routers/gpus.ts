import { Gpu, ListGpusQuery } from '@hangar/core';
import { z } from 'zod';
import { router } from '../trpc/init.js';
import { globalAdminProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';

/** The fleet's GPUs: hardware of every tenant's hosts, so global admins only. */
export const gpusRouter = router({
  list: globalAdminProcedure
    .meta(
      route('GET', '/gpus', "List the fleet's GPUs: host, PCI address, model, NUMA node, health and the VM holding each (global admins)", {
        description:
          'Filter by `host_id` (id or name), `model` (words of the model name, or its vendor:device id), `free` and `health`. A GPU is `unhealthy` when it cannot be passed through (`health_reason` says why).',
      }),
    )
    .input(ListGpusQuery.default({}))
    .output(z.array(Gpu))
    .query(({ ctx, input }) => ctx.services.gpus.list(input)),
});
