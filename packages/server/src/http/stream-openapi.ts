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
  '/events/stream': {
    get: {
      operationId: 'events-stream',
      tags: ['events'],
      summary: 'Watch changes live (Server-Sent Events)',
      description:
        "Every change of a VM, operation, image or host of the caller's project, as Server-Sent Events: each SSE `data` is a WatchEvent (JSON), each SSE `id` its stream position. Reconnect with `Last-Event-ID` (EventSource does) or `after` to be replayed what was missed, then the live tail, with no gap and no duplicate. Without either the stream starts now; `after=0` replays everything kept. A comment line every 15 s keeps proxies from closing an idle stream; a failure mid-stream is an `error` event and the end of the stream. Global admins may watch another project (`project_id`, with the hosts' events) or everything (`all_projects=true`). Streams held at once count against the same per-key bound as long-polls (429 beyond it).",
      security: [{ bearer: [] }],
      parameters: [
        {
          name: 'vm_id',
          in: 'query',
          required: false,
          description: 'Only this VM (and its operations)',
          schema: { type: 'string', format: 'uuid' },
        },
        {
          name: 'label',
          in: 'query',
          required: false,
          description: 'Only VMs with this label (`key=value` or `key`); repeat for more',
          schema: { type: 'array', items: { type: 'string' } },
          style: 'form',
          explode: true,
        },
        {
          name: 'type',
          in: 'query',
          required: false,
          description: 'Only these event types or kinds (`vm`, `operation`, `image`, `host`); repeat for more',
          schema: { type: 'array', items: { type: 'string' } },
          style: 'form',
          explode: true,
        },
        {
          name: 'project_id',
          in: 'query',
          required: false,
          description: 'Global admins: the events of another project',
          schema: { type: 'string', format: 'uuid' },
        },
        {
          name: 'all_projects',
          in: 'query',
          required: false,
          description: 'Global admins: every project and the hosts',
          schema: { type: 'boolean' },
        },
        {
          name: 'after',
          in: 'query',
          required: false,
          description: 'Replay what came after this position (digits), then go live',
          schema: { type: 'string', pattern: '^\\d{1,15}$' },
        },
        {
          name: 'Last-Event-ID',
          in: 'header',
          required: false,
          description: 'The id of the last event seen (wins over `after`)',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': {
          description: 'The stream: `id: <position>` and `data: <WatchEvent as JSON>` per event',
          content: { 'text/event-stream': { schema: { $ref: '#/components/schemas/WatchEvent' } } },
        },
        ...errorRefs([400, 401, 403, 404, 429, 503]),
      },
    },
  },
  '/vms/{id}/console/ws': {
    get: {
      operationId: 'vms-console-socket',
      tags: ['vms'],
      summary: "The VM's screen: VNC (RFB) over a WebSocket",
      description:
        "A WebSocket upgrade (`Upgrade: websocket`, subprotocol `binary`), authorized by the ticket of `POST /vms/{id}/console-ticket` instead of a bearer token: single use, valid 60 s, for this VM only. Once open, binary frames carry the raw RFB stream of the VM's VNC server both ways (what noVNC speaks); a text frame closes it (1003). Closing either side closes the other. Refusals are HTTP answers to the upgrade, before any WebSocket: 400 not a WebSocket upgrade or a subprotocol other than `binary`, 401 no ticket or one unknown, used or expired, 403 a ticket for another VM, 409 the VM no longer shows a screen, 429 beyond `HANGAR_MAX_CONSOLES_PER_PRINCIPAL` open consoles, 503 its VNC server cannot be reached.",
      // No bearer token: browsers cannot send one with a WebSocket. The ticket stands for it.
      security: [],
      parameters: [
        idParam,
        { name: 'ticket', in: 'query', required: true, description: 'From `POST /vms/{id}/console-ticket`', schema: { type: 'string' } },
      ],
      responses: {
        '101': { description: 'Switching protocols: the WebSocket is open' },
        ...errorRefs([400, 401, 403, 404, 409, 429, 503]),
      },
    },
  },
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
