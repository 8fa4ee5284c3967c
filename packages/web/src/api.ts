import { Client, HangarError, type Principal, ValidationError } from '@hangar/sdk';

/** A signed-in console: the SDK client and who it speaks for. */
export interface Session {
  client: Client;
  principal: Principal;
}

const TOKEN_KEY = 'hangar.token';

/**
 * Calls the SDK with the browser's own fetch (bound to the window: a fetch called on another
 * object throws), and remembers the bearer token each request carries: after a password sign-in
 * it is the access token the SDK got, which is kept for this tab in sessionStorage.
 */
function browserFetch(seen: { token?: string }): typeof fetch {
  return (input, init) => {
    const auth = new Headers(init?.headers).get('authorization');
    if (auth?.startsWith('Bearer ')) seen.token = auth.slice('Bearer '.length);
    return globalThis.fetch(input, init);
  };
}

async function open(opts: { api_key?: string; username?: string; password?: string }, keep: boolean): Promise<Session> {
  const seen: { token?: string } = {};
  const client = new Client({ base_url: location.origin, ...opts, max_retries: 1, fetch: browserFetch(seen) });
  const principal = await client.authenticate();
  if (keep && seen.token) sessionStorage.setItem(TOKEN_KEY, seen.token);
  return { client, principal };
}

/** Kept for the tab: the access token a password sign-in gets expires by itself. */
export function signInWithPassword(username: string, password: string): Promise<Session> {
  return open({ username, password }, true);
}

/**
 * Kept for the tab too, so a reload or a pasted link does not ask for it again. The page's
 * CSP allows its own scripts only: an injected one, which could read it, has no way in.
 */
export function signInWithKey(apiKey: string): Promise<Session> {
  return open({ api_key: apiKey }, true);
}

/** The session this tab signed in to before a reload, if its token still works. */
export async function restoreSession(): Promise<Session | null> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    return await open({ api_key: token }, true);
  } catch {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
}

export function forgetSession(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** May this principal change things (start, stop, create…)? Viewers may not. */
export const canOperate = (p: Principal) => p.role !== 'viewer';

/** What to tell a person about a failure: the API's own message. */
export function messageOf(err: unknown): string {
  if (err instanceof HangarError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The API's validation messages by field (the first part of each path: `labels.x` → `labels`). */
export function fieldErrors(err: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!(err instanceof ValidationError)) return out;
  for (const f of err.fields) {
    const key = String(f.path).split(/[.[]/)[0] || '(form)';
    out[key] = out[key] ? `${out[key]}; ${f.message}` : f.message;
  }
  return out;
}

export const isNotFound = (err: unknown) => err instanceof HangarError && (err.status === 404 || err.code.endsWith('NOT_FOUND'));
export const isUnauthenticated = (err: unknown) => err instanceof HangarError && err.code === 'UNAUTHENTICATED';
