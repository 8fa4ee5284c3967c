import { randomBytes } from 'node:crypto';
import { desc, eq, sql } from 'drizzle-orm';
import { type CreatedJoinToken, CreateJoinTokenInput, JOIN_TOKEN_PREFIX, type JoinToken } from '../domain/agent.js';
import { errors } from '../domain/errors.js';
import type { Db } from '../store/database.js';
import { type JoinTokenRow, joinTokens } from '../store/schema.js';
import { sha256Hex } from './sha256.js';
import { parse, parseId } from './validate.js';

export function hashJoinToken(token: string): string {
  return sha256Hex(token);
}

function toJoinToken(row: JoinTokenRow): JoinToken {
  return {
    id: row.id,
    description: row.description,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/**
 * A token `hangar agent` joins the fleet with (HANGAR_JOIN_TOKEN): any number of hosts may
 * join with it until it expires or is revoked; each gets credentials of its own. The token is
 * returned only here.
 */
export async function createJoinToken(db: Db, actor: string, raw: unknown = {}): Promise<CreatedJoinToken> {
  const input = parse(CreateJoinTokenInput, raw, 'join token');
  const token = `${JOIN_TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
  const [row] = await db
    .insert(joinTokens)
    .values({
      token_hash: hashJoinToken(token),
      description: input.description,
      created_by: actor,
      expires_at: new Date(Date.now() + input.expires_in_hours * 3600_000),
    })
    .returning();
  return { join_token: toJoinToken(row!), token };
}

export async function listJoinTokens(db: Db): Promise<JoinToken[]> {
  return (await db.select().from(joinTokens).orderBy(desc(joinTokens.created_at))).map(toJoinToken);
}

/** No host joins with it any more; hosts that joined keep their credentials. */
export async function revokeJoinToken(db: Db, id: unknown): Promise<JoinToken> {
  const [row] = await db
    .update(joinTokens)
    .set({ revoked_at: sql`COALESCE(${joinTokens.revoked_at}, now())` })
    .where(eq(joinTokens.id, parseId(id, 'join token id')))
    .returning();
  if (!row) throw errors.notFound('Join token', String(id));
  return toJoinToken(row);
}
