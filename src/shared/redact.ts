/**
 * The one redaction every error path uses before a message leaves the process: a password that
 * reached a driver error or a child's stderr is replaced, whatever subsystem caught it.
 */
export const REDACTED = "[redacted]";

/**
 * Replaces every occurrence of each secret by `[redacted]`. Secrets shorter than 4 characters
 * are skipped: replacing "a" everywhere would destroy the message and reveal nothing anyway.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
    let result = text;
    for (const secret of secrets) {
        if (secret && secret.length >= 4) result = result.split(secret).join(REDACTED);
    }
    return result;
}
