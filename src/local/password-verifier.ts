/**
 * Whether a declared password matches the verifier PostgreSQL stores in pg_authid.rolpassword,
 * so the harness sets a role's password only when it differs (a second apply then changes
 * nothing). The program declares SCRAM verifiers (src/scram.ts), stored as given, so those
 * compare as strings; a plain password is checked against a SCRAM or md5 verifier.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isScramVerifier, scramMatches } from "../scram";

/** True when `declared` gives `verifier`; false when not or when the verifier is unknown. */
export function passwordMatches(verifier: string | null, role: string, declared: string): boolean {
    if (!verifier) return false;
    if (isScramVerifier(declared)) return verifier === declared;
    if (isScramVerifier(verifier)) return scramMatches(verifier, declared);
    if (/^md5[0-9a-f]{32}$/.test(verifier)) {
        const expected = Buffer.from(
            `md5${createHash("md5")
                .update(declared + role)
                .digest("hex")}`,
        );
        return expected.length === verifier.length && timingSafeEqual(expected, Buffer.from(verifier));
    }
    return false;
}
