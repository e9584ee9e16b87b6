/**
 * SQL quoting for every identifier and literal tenantdb sends to PostgreSQL. Names are
 * validated first, then quoted with `pg`'s escapeIdentifier/escapeLiteral: quoting alone would
 * let PostgreSQL silently truncate a long name, so the object created would not be the one meant.
 */
import { escapeIdentifier, escapeLiteral } from "pg";

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Byte length as PostgreSQL counts it (UTF-8). */
export function identifierBytes(identifier: string): number {
    return Buffer.byteLength(identifier, "utf8");
}

/**
 * Validates a PostgreSQL identifier and returns it quoted. Refused: empty names, names longer
 * than 63 bytes and control characters. Anything else, quotes included, is quoted.
 * `what` names the identifier in the error ("role name of tenant acme").
 */
export function quoteIdentifier(name: string, what = "SQL identifier"): string {
    if (typeof name !== "string" || name.length === 0) throw new Error(`${what} must be a non-empty name`);
    if (identifierBytes(name) > MAX_IDENTIFIER_BYTES) {
        throw new Error(`${what} ${JSON.stringify(name)} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes`);
    }
    if (CONTROL_CHARACTERS.test(name)) throw new Error(`${what} ${JSON.stringify(name)} contains a control character`);
    return escapeIdentifier(name);
}

/** A quoted string literal. PostgreSQL cannot store NUL, so it is refused; the value never appears in the error. */
export function quoteLiteral(value: string, what = "SQL literal"): string {
    if (typeof value !== "string" || value.includes("\u0000")) throw new Error(`${what} must be a string without NUL characters`);
    return escapeLiteral(value);
}
