/**
 * Whether a password matches the verifier PostgreSQL stores in pg_authid.rolpassword, so the
 * harness sets a role's password only when it differs (a second apply then changes nothing).
 * SCRAM-SHA-256 (RFC 5802/7677, as PostgreSQL's scram_build_secret) and md5 verifiers.
 * Passwords are compared without SASLprep: a non-ASCII password may compare unequal, and is
 * then simply set again.
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto";

const SCRAM = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

function same(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
}

/** True when `password` is the one `verifier` was built from; false when not or when the verifier is unknown. */
export function passwordMatches(verifier: string | null, role: string, password: string): boolean {
    if (!verifier) return false;
    const scram = SCRAM.exec(verifier);
    if (scram) {
        const [, iterations, salt, storedKey, serverKey] = scram;
        const salted = pbkdf2Sync(Buffer.from(password, "utf8"), Buffer.from(salt, "base64"), Number(iterations), 32, "sha256");
        const clientKey = createHmac("sha256", salted).update("Client Key").digest();
        const stored = createHash("sha256").update(clientKey).digest();
        const server = createHmac("sha256", salted).update("Server Key").digest();
        return same(stored, Buffer.from(storedKey, "base64")) && same(server, Buffer.from(serverKey, "base64"));
    }
    if (/^md5[0-9a-f]{32}$/.test(verifier)) {
        return same(Buffer.from(`md5${createHash("md5").update(password + role).digest("hex")}`), Buffer.from(verifier));
    }
    return false;
}
