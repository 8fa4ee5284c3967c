import type { HangarError } from '@hangar/core';
import type { Context as HonoContext } from 'hono';
import type { z } from 'zod';
import type { AppEnv } from '../http/request-context.js';
import type { DialectName } from './names.js';
import type { NativeCalls } from './native-calls.js';

/**
 * A dialect: the routes and shapes of an earlier VM API, spoken by translating each request
 * onto Hangar's own procedures and each answer back. A dialect keeps no state and makes no
 * decision of its own: authentication, validation, the state machine and operations are the
 * native API's, reached through `NativeCalls`.
 */
export interface Dialect {
  /** The name `HANGAR_DIALECTS` and `/openapi/<name>.json` use. */
  name: DialectName;
  /** The API it speaks, as its users knew it. */
  title: string;
  /** A paragraph for its OpenAPI document: what it is and where it differs. */
  description: string;
  /**
   * Whether its paths are the native API's own (it then only adds a document; the native API
   * takes its field names as aliases).
   */
  native_paths?: boolean;
  routes: DialectRoute[];
  /** How an error is answered: its status and body (the native error, mapped). */
  error: ErrorDialect;
}

export type DialectMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What a route handler gets: the request, its path parameters and the native API as the caller. */
export interface DialectRequest {
  c: HonoContext<AppEnv>;
  params: Record<string, string>;
  native: NativeCalls;
}

/**
 * A route's answer; `undefined` when the request is not this dialect's after all (a name where
 * another dialect takes ids), so the next dialect on the same path answers it.
 */
export type DialectAnswer = Response | undefined;

export interface DialectRoute {
  method: DialectMethod;
  /** OpenAPI style: `/vms/{vm_name}/start`. */
  path: `/${string}`;
  summary: string;
  description?: string;
  /** For the document: the query it reads. */
  query?: z.ZodObject;
  /** For the document: the body it reads (JSON unless `body_type` says otherwise). */
  body?: z.ZodType;
  body_type?: 'application/json' | 'application/x-www-form-urlencoded' | 'multipart/form-data';
  /** A GET whose answer is a stream it starts (a download): HEAD is refused (`refuseHead`). */
  streams?: boolean;
  /** For the document: the answers, by status. */
  responses: Record<number, { description: string; schema?: z.ZodType; content_type?: string }>;
  /** Public routes (the token endpoint) need no bearer token. */
  public?: boolean;
  handle: (req: DialectRequest) => Promise<DialectAnswer>;
}

/** A dialect's error answers: the status the earlier API gave, and its body. */
export interface ErrorDialect {
  status: (err: HangarError, native: number) => number;
  body: (err: HangarError, requestId: string | null) => unknown;
}
