/**
 * Bearer tokens: `tdb_` and 32 random bytes (base64url). Only their SHA-256 is stored: the tokens
 * are random and long, so a fast hash cannot be reversed by guessing, and lookup is by hash.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Pool } from "pg";

export const SCOPES = ["read", "provision", "offboard"] as const;
export type Scope = (typeof SCOPES)[number];

const TOKEN_FORMAT = /^tdb_[A-Za-z0-9_-]{43}$/;
const NAME_FORMAT = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

export const hashToken = (token: string) => createHash("sha256").update(token, "utf8").digest();

export interface TokenInfo {
    readonly name: string;
    readonly scopes: readonly Scope[];
    readonly createdAt: string;
    readonly revokedAt?: string;
}

export function parseScopes(text: string): Scope[] {
    const scopes = [...new Set(text.split(",").map((s) => s.trim()))].filter((s) => s !== "");
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length > 0)
        throw new Error(`--scopes takes a comma-separated list of ${SCOPES.join(", ")}; got ${JSON.stringify(text)}`);
    return scopes as Scope[];
}

/** Creates a token; returns it, the one time it is ever shown. */
export async function createToken(pool: Pool, name: string, scopes: readonly Scope[]): Promise<string> {
    if (!NAME_FORMAT.test(name))
        throw new Error(`token name ${JSON.stringify(name)}: use 1 to 63 of a-z, 0-9, _, . and -, starting with a letter or digit`);
    const token = `tdb_${randomBytes(32).toString("base64url")}`;
    const inserted = await pool.query(
        "INSERT INTO tokens (name, hash, scopes) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING name",
        [name, hashToken(token), scopes],
    );
    if (inserted.rowCount === 0) throw new Error(`a token named ${name} already exists (revoked or not); choose another name`);
    return token;
}

export async function listTokens(pool: Pool): Promise<TokenInfo[]> {
    const { rows } = await pool.query<{ name: string; scopes: Scope[]; created_at: Date; revoked_at: Date | null }>(
        "SELECT name, scopes, created_at, revoked_at FROM tokens ORDER BY name",
    );
    return rows.map((row) => ({
        name: row.name,
        scopes: row.scopes,
        createdAt: row.created_at.toISOString(),
        ...(row.revoked_at ? { revokedAt: row.revoked_at.toISOString() } : {}),
    }));
}

/** Revokes a token by name; false when there is no such token or it was already revoked. */
export async function revokeToken(pool: Pool, name: string): Promise<boolean> {
    const updated = await pool.query("UPDATE tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", [name]);
    return updated.rowCount === 1;
}

/** The caller a bearer token names: undefined for a malformed, unknown or revoked one. */
export async function tokenCaller(pool: Pool, token: string): Promise<{ name: string; scopes: Scope[] } | undefined> {
    if (!TOKEN_FORMAT.test(token)) return undefined;
    const { rows } = await pool.query<{ name: string; scopes: Scope[] }>(
        "SELECT name, scopes FROM tokens WHERE hash = $1 AND revoked_at IS NULL",
        [hashToken(token)],
    );
    return rows[0];
}
