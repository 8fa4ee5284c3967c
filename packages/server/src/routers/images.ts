import { IdRequest, Image, ImageList, ListImagesQuery, RegisterImageInput, WaitImageRequest, WaitImageResult } from '@hangar/core';
import { router } from '../trpc/init.js';
import { operatorProcedure, viewerProcedure } from '../trpc/procedures.js';
import { route } from '../trpc/routes.js';
import { waitSignal } from '../trpc/settle.js';

export const imagesRouter = router({
  /** Registers a download; the worker fetches it (see the image's `status` and `progress`). */
  create: operatorProcedure
    .meta(
      route('POST', '/images', 'Register an ISO or disk image to download from a URL', {
        status: 201,
        description:
          'The worker downloads it into the image store (http/https only, redirects followed up to 5 times, size-limited, checked against `sha256` when given). The same URL and checksum in a project is one image: registering it again returns the first. Upload bytes instead with `POST /api/v1/images/upload`.',
      }),
    )
    .input(RegisterImageInput)
    .output(Image)
    .mutation(async ({ ctx, input }) => (await ctx.services.images.register(ctx.scope, input)).image),

  get: viewerProcedure
    .meta(route('GET', '/images/{id}', 'Get an image, with its download progress'))
    .input(IdRequest)
    .output(Image)
    .query(({ ctx, input }) => ctx.services.images.get(ctx.scope, input.id)),

  list: viewerProcedure
    .meta(route('GET', '/images', "List the project's images, newest first"))
    .input(ListImagesQuery.optional())
    .output(ImageList)
    .query(({ ctx, input }) => ctx.services.images.list(ctx.scope, input ?? {})),

  /** Long-poll: held until the image is ready or its download failed, or the caller's timeout passes. */
  wait: viewerProcedure
    .meta(
      route('GET', '/images/{id}/wait', 'Wait until an image is ready (or its download failed)', {
        query_aliases: { timeout: 'timeout_ms' },
      }),
    )
    .input(WaitImageRequest)
    .output(WaitImageResult)
    .query(({ ctx, input, signal }) =>
      ctx.waits.hold(ctx.principal, () =>
        ctx.services.images.wait(ctx.scope, input.id, { timeout_ms: input.timeout_ms, signal: waitSignal(ctx, signal) }),
      ),
    ),

  delete: operatorProcedure
    .meta(route('DELETE', '/images/{id}', 'Delete an image (409 while a VM uses it)'))
    .input(IdRequest)
    .output(Image)
    .mutation(({ ctx, input }) => ctx.services.images.delete(ctx.scope, input.id)),
});
