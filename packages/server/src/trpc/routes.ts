import { z } from 'zod';
import type { HttpMethod, Meta } from './init.js';

/** Headers a REST client may send instead of the body fields `idempotency_key` and `expected_version`. */
const MutationHeaders = z.object({
  'Idempotency-Key': z
    .string()
    .optional()
    .meta({ description: 'Same key + same request replays the first answer; same key + another request is 422.' }),
  'If-Match': z.string().optional().meta({ description: 'The VM version the change expects (409 VERSION_CONFLICT otherwise).' }),
});

/** A procedure's REST route (under /api/v1), for the OpenAPI document and the REST adapter. */
export function route(
  method: HttpMethod,
  path: `/${string}`,
  summary: string,
  rest: Meta['rest'] & { description?: string; public?: boolean; form?: boolean } = {},
): Meta {
  const { description, public: isPublic, form, ...restMeta } = rest;
  return {
    openapi: {
      method,
      path,
      summary,
      description,
      tags: [path.split('/')[1]!],
      protect: !isPublic,
      ...(form ? { contentTypes: ['application/x-www-form-urlencoded', 'application/json'] } : {}),
      ...(method !== 'GET' && !isPublic ? { requestHeaders: MutationHeaders } : {}),
    },
    rest: restMeta,
  };
}
