import { WatchEvent } from '@hangar/core';
import { generateOpenApiDocument } from 'trpc-to-openapi';
import { z } from 'zod';
import { ErrorBody } from '../errors/write-error.js';
import { appRouter } from '../router.js';
import { API_BASE } from './api-base.js';
import { type RestMeta, restProcedures } from './rest-routes.js';
import { STREAM_ROUTES_OPENAPI } from './stream-openapi.js';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is JSON walked and patched by path
type Json = Record<string, any>;

export const API_VERSION = '0.1.0';

/** The statuses each REST operation may answer besides success. */
const ERRORS: Record<number, string> = {
  400: 'Invalid input (the failing fields are listed)',
  401: 'Missing, wrong, expired or revoked credentials',
  403: 'The role is too weak',
  404: 'Not found (or in another project)',
  409: 'Not allowed in the current state (status, allowed_actions and the operation in the way are given)',
  422: 'The idempotency key was used for another request',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'The hypervisor or the database is unavailable',
};

const VM_EXAMPLE = {
  id: '6c7e3b27-7159-4e0a-9e30-3d44284574cd',
  number: 42,
  name: 'web-1',
  project_id: '97d4ec1b-82a2-4ad3-9cee-2e0bdc2f8a7e',
  host_id: '7028114f-623e-46f7-aa73-0bea2f497658',
  status: 'running',
  cpu_cores: 2,
  memory_mb: 2048,
  disk_gb: 20,
  os_type: 'linux',
  os_version: 'Debian 12',
  labels: { env: 'prod' },
  public_ip: null,
  network: { type: 'nat', bridge_name: null, mac_address: '52:54:00:a0:00:87', ip_address: null },
  vnc_enabled: true,
  vnc_port: 5900,
  image_id: null,
  iso_image_id: null,
  allowed_actions: ['stop', 'force_stop', 'restart', 'reset', 'pause', 'update_metadata', 'delete'],
  current_operation_id: null,
  last_error: null,
  version: 3,
  created_at: '2026-11-23T09:34:55.790Z',
  updated_at: '2026-11-23T09:35:02.118Z',
  deleted_at: null,
};

/**
 * The OpenAPI 3.1 document of the REST routes, generated from the tRPC procedures (their
 * zod inputs and outputs, through trpc-to-openapi), then finished with what the procedures'
 * `rest` metadata says: success statuses (201, 202), alias routes and parameters, and the
 * error shape the REST adapter answers with.
 */
export function buildOpenApiDocument(): Json {
  const doc = generateOpenApiDocument(appRouter as never, {
    title: 'Hangar',
    version: API_VERSION,
    description:
      'A control plane for virtual machines. The same API as the tRPC procedures at /trpc; authenticate with `Authorization: Bearer <API key or access token>`.',
    baseUrl: API_BASE,
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (hgr_…) or an access token from POST /token' } },
  }) as Json;

  const errorSchema = z.toJSONSchema(ErrorBody, { target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  delete errorSchema.$schema;
  // trpc-to-openapi's own error schemas give way to the shape the REST adapter answers with.
  const generated = Object.entries(doc.components.schemas as Json).filter(([name]) => !name.startsWith('error.'));
  // WatchEvent names itself (meta id): the generator puts it under $defs and refers to it, which
  // inside this document would point at its root. The definition itself is the component.
  const watchEventDoc = z.toJSONSchema(WatchEvent, { target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  const watchEventSchema = (watchEventDoc.$defs?.WatchEvent ?? watchEventDoc) as Json;
  delete watchEventSchema.$schema;
  delete watchEventSchema.id;
  doc.components.schemas = { ...Object.fromEntries(generated), Error: errorSchema, WatchEvent: watchEventSchema };

  for (const proc of restProcedures()) {
    const op = doc.paths[proc.path]?.[proc.method.toLowerCase()] as Json | undefined;
    if (!op) continue;
    shapeResponses(op, proc.rest);
    for (const alias of proc.rest.also ?? []) {
      const copy = structuredClone(op);
      copy.operationId = `${op.operationId}-${alias.method.toLowerCase()}`;
      doc.paths[alias.path] ??= {};
      doc.paths[alias.path][alias.method.toLowerCase()] = copy;
    }
  }
  for (const [path, ops] of Object.entries(STREAM_ROUTES_OPENAPI)) doc.paths[path] = { ...doc.paths[path], ...structuredClone(ops) };
  return sortKeys(doc) as Json;
}

function shapeResponses(op: Json, rest: RestMeta): void {
  const ok = op.responses['200'];
  if (rest.status === 201) {
    op.responses = { '201': { ...ok, headers: { Location: { description: 'The new resource', schema: { type: 'string' } } } } };
  } else if (rest.status === 'accepted') {
    op.responses = {
      '200': { ...ok, description: 'Done: nothing was needed, or `wait=true` and the operation has finished' },
      '202': { ...ok, description: 'Accepted: the operation runs; follow it with GET /operations/{id} or /operations/{id}/wait' },
    };
  } else {
    op.responses = { '200': ok };
  }
  for (const [status, description] of Object.entries(ERRORS)) {
    op.responses[status] = {
      description,
      headers: {
        'x-request-id': { schema: { type: 'string' } },
        'x-should-retry': { schema: { type: 'string', enum: ['true', 'false'] } },
      },
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  for (const [alias, name] of Object.entries(rest.query_aliases ?? {})) {
    const param = (op.parameters as Json[] | undefined)?.find((p) => p.in === 'query' && p.name === name);
    if (param) op.parameters.push({ ...structuredClone(param), name: alias, description: `Same as ${name}` });
  }
  const body = op.requestBody?.content?.['application/json']?.schema as Json | undefined;
  if (op.requestBody && body && !(body.required as string[] | undefined)?.length) op.requestBody.required = false;
  for (const [alias, name] of Object.entries(rest.body_aliases ?? {})) {
    const field = body?.properties?.[name] as Json | undefined;
    if (!field) continue;
    const { default: _default, description: _description, ...schema } = structuredClone(field);
    body!.properties[alias] = { ...schema, deprecated: true, description: `Deprecated alias of ${name} (the older APIs' name for it)` };
  }
  if (op.operationId === 'vms-get') op.responses['200'].content['application/json'].example = VM_EXAMPLE;
}

/** Stable key order, so the committed document only changes when the API does. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Json)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}
