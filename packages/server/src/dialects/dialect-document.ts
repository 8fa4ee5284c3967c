import { z } from 'zod';
import { API_VERSION } from '../http/openapi.js';
import type { Dialect, DialectRoute } from './dialect.js';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is JSON built by path
type Json = Record<string, any>;

/**
 * A schema for the document. Schemas that name themselves (`.meta({id})`, `GpuRequest`) come out
 * of the generator under `$defs` with references into it; inside a document `#` is its root, so
 * they move to `components.schemas` and the references follow.
 */
function schemaOf(schema: z.ZodType, io: 'input' | 'output', components: Json): Json {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io, reused: 'inline' }) as Json;
  delete json.$schema;
  const defs = (json.$defs ?? {}) as Json;
  delete json.$defs;
  for (const [name, def] of Object.entries(defs)) components[name] = rewriteRefs(def);
  return rewriteRefs(json) as Json;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Json).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, '#/components/schemas/') : rewriteRefs(v),
      ]),
    );
  }
  return value;
}

/**
 * A dialect's own OpenAPI document, made from the same route table that serves it, so the two
 * cannot drift: each route's path, query, body and answers.
 */
export function dialectDocument(dialect: Dialect): Json {
  const paths: Json = {};
  const schemas: Json = {};
  for (const route of dialect.routes) {
    paths[route.path] ??= {};
    paths[route.path][route.method.toLowerCase()] = operation(dialect, route, schemas);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: `${dialect.title} (Hangar ${dialect.name} dialect)`,
      version: API_VERSION,
      description: dialect.description,
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key (hgr_…) or an access token from POST /token' },
      },
    },
  };
}

function operation(dialect: Dialect, route: DialectRoute, components: Json): Json {
  const op: Json = {
    operationId: `${dialect.name}-${route.method.toLowerCase()}-${route.path
      .replace(/[{}]/g, '')
      .replace(/[^A-Za-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')}`,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    ...(route.public ? { security: [] } : { security: [{ bearer: [] }] }),
  };
  const parameters: Json[] = [];
  for (const [, name] of route.path.matchAll(/\{(\w+)\}/g))
    parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  if (route.query) {
    const query = schemaOf(route.query, 'input', components);
    const required = new Set<string>((query.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((query.properties ?? {}) as Json)) {
      const { description, ...rest } = schema as Json;
      parameters.push({ name, in: 'query', required: required.has(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  if (parameters.length) op.parameters = parameters;
  if (route.body) {
    op.requestBody = {
      required: true,
      content: { [route.body_type ?? 'application/json']: { schema: schemaOf(route.body, 'input', components) } },
    };
  }
  op.responses = Object.fromEntries(
    Object.entries(route.responses).map(([status, r]) => [
      status,
      {
        description: r.description,
        ...(r.schema ? { content: { [r.content_type ?? 'application/json']: { schema: schemaOf(r.schema, 'output', components) } } } : {}),
      },
    ]),
  );
  return op;
}
