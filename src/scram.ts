/**
 * SCRAM-SHA-256 verifiers (RFC 5802/7677, as PostgreSQL's scram_build_secret builds them).
 *
 * The program sends PostgreSQL a role's verifier, never its password: `CREATE/ALTER ROLE ...
 * PASSWORD 'SCRAM-SHA-256$...'` is stored as given, and the statement (logged with
 * `log_statement=ddl`, shipped to CloudWatch on RDS) holds nothing a client can log in with.
 * The salt is derived from the password and the role name, so the verifier is stable from one
 * `pulumi up` to the next (no diff) yet differs between roles.
 */
import { createHash, createHmac, pbkdf2, pbkdf2Sync, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

/** PostgreSQL's default scram_iterations. */
export const SCRAM_ITERATIONS = 4096;
const SCRAM = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;
const pbkdf2Async = promisify(pbkdf2);

function keys(salted: Buffer): { stored: Buffer; server: Buffer } {
    const clientKey = createHmac("sha256", salted).update("Client Key").digest();
    return { stored: createHash("sha256").update(clientKey).digest(), server: createHmac("sha256", salted).update("Server Key").digest() };
}

/** Whether a role's password input is already a SCRAM verifier. */
export function isScramVerifier(value: string): boolean {
    return SCRAM.test(value);
}

/** The verifier the program declares for `role` with `password` (passwords are not SASLprep'd: tenantdb's are ASCII). */
export async function scramVerifier(role: string, password: string): Promise<string> {
    const salt = createHmac("sha256", password).update(`tenantdb scram salt for ${role}`).digest().subarray(0, 16);
    const salted = await pbkdf2Async(Buffer.from(password, "utf8"), salt, SCRAM_ITERATIONS, 32, "sha256");
    const { stored, server } = keys(salted);
    return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString("base64")}$${stored.toString("base64")}:${server.toString("base64")}`;
}

function same(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
}

/** True when `password` is the one the SCRAM `verifier` was built from. */
export function scramMatches(verifier: string, password: string): boolean {
    const scram = SCRAM.exec(verifier);
    if (!scram) return false;
    const [, iterations, salt, storedKey, serverKey] = scram;
    const { stored, server } = keys(
        pbkdf2Sync(Buffer.from(password, "utf8"), Buffer.from(salt, "base64"), Number(iterations), 32, "sha256"),
    );
    return same(stored, Buffer.from(storedKey, "base64")) && same(server, Buffer.from(serverKey, "base64"));
}
