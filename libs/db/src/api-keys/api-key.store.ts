import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey } from '../entities/api-key.entity';
import { runSql, type Queryable } from '../run-sql';

/*
 * Every statement on api_keys. Only a key's SHA-256 is ever written; the secret exists in the
 * create and rotate answers alone.
 */

/** A key as the admin API and the key cache see it: never a secret, never a hash. */
export type ApiKeyRecord = Omit<ApiKey, 'keySha256' | 'previousSha256'>;

const RECORD_COLUMNS = `id, tenant, name, tier, scopes, created_at AS "createdAt", expires_at AS "expiresAt",
  revoked_at AS "revokedAt", rotated_at AS "rotatedAt", previous_valid_until AS "previousValidUntil",
  last_used_at AS "lastUsedAt"`;

/** A new secret: 32 random bytes, prefixed so a leaked one is easy to recognise in a scan. */
export function newApiKeySecret(prefix = 'ak'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** The SHA-256 (hex) of a secret: what api_keys and API_KEYS hold. */
export function apiKeySha256(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface NewApiKey {
  id: string;
  tenant: string;
  name: string;
  tier: string;
  scopes: string[];
  keySha256: string;
  expiresAt: Date | null;
}

const INSERT_SQL = `
  INSERT INTO api_keys (id, tenant, name, tier, scopes, key_sha256, expires_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7)
  RETURNING ${RECORD_COLUMNS}`;

export async function insertApiKey(db: Queryable, key: NewApiKey): Promise<ApiKeyRecord> {
  const { rows } = await runSql<ApiKeyRecord>(db, INSERT_SQL, [
    key.id,
    key.tenant,
    key.name,
    key.tier,
    key.scopes,
    key.keySha256,
    key.expiresAt,
  ]);
  return rows[0];
}

/** A key found by a presented secret's hash, and until when that secret is good. */
export interface ApiKeyMatch {
  key: ApiKeyRecord;
  /** When this secret stops working (expiry, or the end of a rotation's grace); null: no end. */
  validUntil: Date | null;
}

/*
 * The current secret, or a rotated-out one inside its grace period; revoked and expired keys
 * never match. The validity end is computed here so that a cached match expires on time.
 */
const BY_HASH_SQL = `
  SELECT ${RECORD_COLUMNS},
    CASE WHEN key_sha256 = $1 THEN expires_at
         ELSE LEAST(previous_valid_until, COALESCE(expires_at, previous_valid_until)) END AS "validUntil"
  FROM api_keys
  WHERE (key_sha256 = $1 OR (previous_sha256 = $1 AND previous_valid_until > now()))
    AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
  LIMIT 1`;

/** The active key a secret with this SHA-256 opens, or null. */
export async function findApiKeyByHash(db: Queryable, args: { sha256: string }): Promise<ApiKeyMatch | null> {
  const { rows } = await runSql<ApiKeyRecord & { validUntil: Date | null }>(db, BY_HASH_SQL, [args.sha256]);
  if (rows.length === 0) return null;
  const { validUntil, ...key } = rows[0];
  return { key, validUntil };
}

const LIST_SQL = `
  SELECT ${RECORD_COLUMNS} FROM api_keys
  WHERE ($1::varchar IS NULL OR tenant = $1) AND ($2::uuid IS NULL OR id < $2)
  ORDER BY id DESC LIMIT $3`;

/** Keys newest first (ids are UUIDv7), of one tenant or (null) of all, after the cursor. */
export async function listApiKeys(
  db: Queryable,
  args: { tenant: string | null; beforeId?: string; limit: number },
): Promise<ApiKeyRecord[]> {
  const { rows } = await runSql<ApiKeyRecord>(db, LIST_SQL, [args.tenant, args.beforeId ?? null, args.limit]);
  return rows;
}

const GET_SQL = `SELECT ${RECORD_COLUMNS} FROM api_keys WHERE id = $1`;

export async function getApiKey(db: Queryable, args: { id: string }): Promise<ApiKeyRecord | null> {
  const { rows } = await runSql<ApiKeyRecord>(db, GET_SQL, [args.id]);
  return rows[0] ?? null;
}

/** The hashes a revocation or rotation takes away, so every replica can drop them from its cache. */
export interface ApiKeyChange {
  key: ApiKeyRecord;
  sha256s: string[];
}

const REVOKE_SQL = `
  UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
  WHERE id = $1
  RETURNING ${RECORD_COLUMNS}, key_sha256 AS "keySha256", previous_sha256 AS "previousSha256"`;

/** Revokes a key (both its current and any rotated-out secret). Repeating it keeps the first time. */
export async function revokeApiKey(db: Queryable, args: { id: string }): Promise<ApiKeyChange | null> {
  const { rows } = await runSql<ApiKey>(db, REVOKE_SQL, [args.id]);
  return rows.length > 0 ? splitHashes(rows[0]) : null;
}

// The secret rotated out by an earlier rotation is returned too: it stops working now.
const ROTATE_SQL = `
  WITH old AS (SELECT previous_sha256 FROM api_keys WHERE id = $1 FOR UPDATE)
  UPDATE api_keys SET previous_sha256 = key_sha256, key_sha256 = $2, rotated_at = now(),
    previous_valid_until = now() + make_interval(secs => $3 / 1000.0)
  WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
  RETURNING ${RECORD_COLUMNS}, key_sha256 AS "keySha256", previous_sha256 AS "previousSha256",
    (SELECT previous_sha256 FROM old) AS "olderSha256"`;

/**
 * Gives the key a new secret (hash `sha256`); the current one keeps working for `graceMs`. A
 * secret rotated out earlier stops at once (only the latest previous one has a grace period).
 * Null when the key does not exist or is revoked or expired.
 */
export async function rotateApiKey(
  db: Queryable,
  args: { id: string; sha256: string; graceMs: number },
): Promise<ApiKeyChange | null> {
  const { rows } = await runSql<ApiKey & { olderSha256: string | null }>(db, ROTATE_SQL, [
    args.id,
    args.sha256,
    args.graceMs,
  ]);
  if (rows.length === 0) return null;
  const { olderSha256, ...row } = rows[0];
  const change = splitHashes(row);
  if (olderSha256) change.sha256s.push(olderSha256);
  return change;
}

const TOUCH_SQL = `
  UPDATE api_keys SET last_used_at = now()
  WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`;

/** Records a use: a no-op when the key was marked used less than a minute ago (by any replica). */
export async function touchApiKey(db: Queryable, args: { id: string }): Promise<void> {
  await runSql(db, TOUCH_SQL, [args.id]);
}

function splitHashes(row: ApiKey): ApiKeyChange {
  const { keySha256, previousSha256, ...key } = row;
  return { key, sha256s: [keySha256, ...(previousSha256 ? [previousSha256] : [])] };
}
