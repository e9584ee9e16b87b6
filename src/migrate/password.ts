/**
 * Password hashing for ERP users, with node:crypto scrypt. The stored form is PHC-like,
 * `scrypt$<N>$<r>$<p>$<salt>$<hash>` (base64url), so the cost can be raised later without
 * invalidating existing hashes: verification reads the parameters from the stored value.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** N=2^14, r=8, p=1 (16 MiB per hash): the defaults of node and of Django's scrypt hasher. */
export const SCRYPT_COST = { N: 16384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
    // scrypt needs 128 * N * r bytes; leave headroom above node's 32 MiB default.
    const maxmem = 256 * cost.N * cost.r;
    return new Promise((resolve, reject) =>
        scrypt(password, salt, KEY_BYTES, { ...cost, maxmem }, (error, key) => (error ? reject(error) : resolve(key))),
    );
}

export async function hashPassword(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const key = await derive(password, salt, SCRYPT_COST);
    const { N, r, p } = SCRYPT_COST;
    return `scrypt$${N}$${r}$${p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
}

/** True when `password` matches `stored`; false for a wrong password or a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
    const parts = stored.split("$");
    if (parts.length !== 6 || parts[0] !== "scrypt") return false;
    const [N, r, p] = parts.slice(1, 4).map(Number);
    if (![N, r, p].every(Number.isSafeInteger) || N > 2 ** 20 || r > 32 || p > 16) return false;
    const salt = Buffer.from(parts[4], "base64url");
    const expected = Buffer.from(parts[5], "base64url");
    if (expected.length !== KEY_BYTES) return false;
    const actual = await derive(password, salt, { N, r, p });
    return timingSafeEqual(actual, expected);
}
