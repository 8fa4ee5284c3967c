/** OpenAPI for the stream routes (stream-routes.ts), which no procedure generates. */
// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is JSON walked and patched by path
type Json = Record<string, any>;

const errorRefs = (statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      String(s),
      { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    ]),
  );
const binary = { type: 'string', format: 'binary' };
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };

export const STREAM_ROUTES_OPENAPI: Record<string, Json> = {
  '/vms/{id}/export': {
    get: {
      operationId: 'vms-export',
      tags: ['vms'],
      summary: 'Export a stopped VM as a tar (or tar.gz) stream',
      description:
        'manifest.json first (format, the VM spec, each disk with its size and sha256), then the disks under disks/. The VM is `exporting` until the stream ends; a client that stops reading returns it to `stopped`. The export operation id is in `x-operation-id`.',
      security: [{ bearer: [] }],
      parameters: [idParam, { name: 'compress', in: 'query', required: false, schema: { type: 'string', enum: ['gzip', 'none'] } }],
      responses: {
        '200': {
          description: 'The archive',
          headers: { 'x-operation-id': { schema: { type: 'string' } }, 'content-disposition': { schema: { type: 'string' } } },
          content: { 'application/x-tar': { schema: binary }, 'application/gzip': { schema: binary } },
        },
        ...errorRefs([400, 401, 403, 404, 409, 500, 503]),
      },
    },
  },
  '/vms/import': {
    post: {
      operationId: 'vms-import',
      tags: ['vms'],
      summary: 'Import a VM from an export (tar, tar.gz, or multipart field `file`)',
      description:
        'Streamed and checked before anything is created: a bad archive (not a tar, truncated, bad manifest, checksum mismatch, paths with `..` or absolute, links, devices, undeclared or oversized entries, decompression bombs) is refused with 400 INVALID_ARCHIVE and leaves nothing behind. The new VM is `stopped`.',
      security: [{ bearer: [] }],
      parameters: [
        {
          name: 'name',
          in: 'query',
          required: false,
          description: "The new VM's name (default: the manifest's)",
          schema: { type: 'string' },
        },
      ],
      requestBody: {
        required: true,
        content: {
          'application/x-tar': { schema: binary },
          'application/gzip': { schema: binary },
          'multipart/form-data': { schema: { type: 'object', properties: { file: binary }, required: ['file'] } },
        },
      },
      responses: {
        '201': {
          description: 'The imported VM',
          headers: { Location: { schema: { type: 'string' } } },
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Vm' } } },
        },
        ...errorRefs([400, 401, 403, 404, 409, 500, 503]),
      },
    },
  },
  '/images/upload': {
    post: {
      operationId: 'images-upload',
      tags: ['images'],
      summary: 'Upload an ISO or disk image (the raw bytes as the body)',
      security: [{ bearer: [] }],
      parameters: [
        { name: 'name', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'kind', in: 'query', required: false, schema: { type: 'string', enum: ['iso', 'disk'], default: 'iso' } },
      ],
      requestBody: { required: true, content: { 'application/octet-stream': { schema: binary } } },
      responses: {
        '201': {
          description: 'The stored image (status ready)',
          headers: { Location: { schema: { type: 'string' } } },
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Image' } } },
        },
        ...errorRefs([400, 401, 403, 404, 413, 500]),
      },
    },
  },
};
