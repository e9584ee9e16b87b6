/**
 * Manifests are authenticated with HMAC-SHA256 under a key the store cannot rewrite. The
 * checksum a manifest holds only proves the dump matches the manifest; anyone who can write
 * the bucket can rewrite both. The signing key lives with the operator (an environment
 * variable fed from a secret store), never next to the backups, so a tampered dump with a
 * recomputed manifest fails here before a database is created.
 *
 * Each tenant signs with its own key, derived from the one secret (HMAC(secret, tenant id)),
 * so a manifest copied from one tenant's prefix to another's never verifies there either.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { inspect } from "node:util";

export const SIGNATURE_ALGORITHM = "HMAC-SHA256";
/** The environment variable the CLI and the inventory read the key from by default. */
export const DEFAULT_SIGNING_KEY_ENV = "TENANTDB_BACKUP_SIGNING_KEY";
/** 32 bytes: the HMAC-SHA256 block of entropy; shorter keys are refused. */
const MIN_KEY_BYTES = 32;
export const SIGNING_KEY_FIX = "generate one with `openssl rand -hex 32` and keep it in your secret store, not next to the backups";

export interface ManifestSignature {
    readonly algorithm: typeof SIGNATURE_ALGORITHM;
    /** Which key signed: the first 16 hex digits of the key's sha256, safe to show. */
    readonly keyId: string;
    /** hex HMAC of the canonical manifest without its signature. */
    readonly value: string;
}

/** The secret; its bytes never reach a log line, JSON or an error message. */
export class ManifestSigningKey {
    readonly #bytes: Buffer;
    /** Safe to show: identifies the key without revealing it. */
    readonly id: string;

    private constructor(bytes: Buffer) {
        this.#bytes = bytes;
        this.id = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
    }

    /** Parses a hex key (64 or more hex digits). `source` names where it came from in the error. */
    static fromHex(text: string, source: string): ManifestSigningKey {
        const trimmed = text.trim();
        if (!/^(?:[0-9a-fA-F]{2})+$/.test(trimmed) || trimmed.length < MIN_KEY_BYTES * 2) {
            // Never echo the value: it may be a real secret pasted in the wrong format.
            throw new Error(`${source}: the backup signing key must be at least ${MIN_KEY_BYTES * 2} hex digits; ${SIGNING_KEY_FIX}.`);
        }
        return new ManifestSigningKey(Buffer.from(trimmed, "hex"));
    }

    /** The key of one tenant: backups of another tenant never verify under it. */
    hmacFor(tenantId: string, payload: string): string {
        const tenantKey = createHmac("sha256", this.#bytes).update(`tenantdb-backup-manifest ${tenantId}`).digest();
        return createHmac("sha256", tenantKey).update(payload).digest("hex");
    }

    toJSON(): string {
        return `[signing key ${this.id}]`;
    }

    [inspect.custom](): string {
        return this.toJSON();
    }
}

/** JSON with object keys sorted at every level: the bytes an HMAC is computed over. */
export function canonicalJson(value: unknown): string {
    return JSON.stringify(value, (_key, v: unknown) =>
        v && typeof v === "object" && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
            : v,
    );
}

export function signPayload(key: ManifestSigningKey, tenantId: string, unsigned: object): ManifestSignature {
    return { algorithm: SIGNATURE_ALGORITHM, keyId: key.id, value: key.hmacFor(tenantId, canonicalJson(unsigned)) };
}

/** Why `signature` does not authenticate `unsigned` for `tenantId` under `key`, or undefined when it does. */
export function signatureProblem(
    key: ManifestSigningKey,
    tenantId: string,
    unsigned: object,
    signature: ManifestSignature | undefined,
): string | undefined {
    if (!signature) return "the manifest is not signed";
    if (signature.keyId !== key.id) {
        return `the manifest is signed with key ${signature.keyId}, and the configured key is ${key.id}`;
    }
    const expected = Buffer.from(key.hmacFor(tenantId, canonicalJson(unsigned)), "hex");
    const found = Buffer.from(signature.value, "hex");
    if (found.length !== expected.length || !timingSafeEqual(found, expected)) {
        return "the manifest's signature does not match its content: the manifest was edited after the backup signed it";
    }
    return undefined;
}

/** The key from the environment variable `name`; a clear error naming the variable when it is unset or malformed. */
export function signingKeyFromEnv(env: NodeJS.ProcessEnv, name = DEFAULT_SIGNING_KEY_ENV): ManifestSigningKey {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set: backups sign their manifests with it; ${SIGNING_KEY_FIX}.`);
    return ManifestSigningKey.fromHex(value, `environment variable ${name}`);
}
