/**
 * `backup verify`: one backup checked end to end without restoring it (issue 13). The manifest
 * must parse, be this tenant's and verify under the signing key; the dump object must exist with
 * the manifest's size; the dump is then read once, its pg_dump archive header must name this
 * tenant's database, and its sha256 and size must be the manifest's. Nothing is created on a server.
 */
import { createHash } from "node:crypto";
import { BackupToolOptions, requireSigningKey, storeOf } from "./backup";
import { TenantBackupError, describe, failFor } from "./errors";
import { TenantBackupTarget } from "./inventory";
import { StoreError } from "./store";
import { tenantNames } from "../naming";
import { readHeader } from "./restore/download";
import { inspectBackup, resolveBackupKey } from "./restore/select-backup";
import { verifyDigest } from "./restore/verify";

export interface VerifyOptions extends BackupToolOptions {
    /** A backup key, its timestamp, or the location a backup printed. Defaults to the newest complete backup. */
    readonly backup?: string;
}

export interface VerifiedBackup {
    readonly tenantId: string;
    readonly key: string;
    /** Where the dump is: `s3://...` or `file:///...`. */
    readonly uri: string;
    readonly startedAt: string;
    readonly schemaVersion: string;
    readonly sizeBytes: number;
    readonly sha256: string;
    /** Id of the key that signed the manifest (safe to show). */
    readonly signatureKeyId: string;
    /** What the dump's own header says. */
    readonly header: { readonly database: string; readonly archiveVersion: string; readonly pgDumpVersion: string };
}

/** Verifies one backup of `target`; throws a TenantBackupError naming the check that failed. */
export async function verifyBackup(target: TenantBackupTarget, options: VerifyOptions = {}): Promise<VerifiedBackup> {
    const { tenantId } = target;
    const fail = failFor(tenantId, target.server.name);
    const signingKey = requireSigningKey(options, fail);
    const store = storeOf(target, options);
    const key = await resolveBackupKey(store, tenantId, options.backup, fail);
    const manifest = await inspectBackup(store, key, tenantId, fail, signingKey);
    const log = options.log ?? (() => undefined);
    log(`${tenantId}: reading ${key} (${manifest.sizeBytes} bytes) to check its header and sha256`);
    let download;
    try {
        download = await store.getStream(key);
    } catch (error) {
        const kind = error instanceof StoreError && error.reason === "missing" ? "missing" : "unreachable";
        throw fail(kind, "download dump", describe(error), `check that ${store.location} is readable.`, error);
    }
    try {
        const chunks = download[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const { header, headerChunks } = await readHeader(chunks, key, fail);
        const database = tenantNames(tenantId).database;
        if (header.database !== database) {
            throw fail(
                "mismatch",
                "check archive header",
                `the dump ${key} is a dump of database ${header.database}, not ${database}.`,
                "this is not this tenant's backup: restore another one, and treat the store as compromised.",
            );
        }
        const hash = createHash("sha256");
        let bytes = 0;
        const take = (chunk: Buffer) => {
            hash.update(chunk);
            bytes += chunk.length;
        };
        headerChunks.forEach(take);
        for (;;) {
            let next: IteratorResult<Buffer>;
            try {
                next = await chunks.next();
            } catch (error) {
                throw fail("unreachable", "download dump", `reading ${key} failed: ${describe(error)}`, "retry.", error);
            }
            if (next.done) break;
            take(Buffer.from(next.value));
        }
        verifyDigest({ key, manifest, fail }, { bytes, sha256: hash.digest("hex") });
        return {
            tenantId,
            key,
            uri: `${store.location}${key.slice(store.prefix.length)}`,
            startedAt: manifest.startedAt,
            schemaVersion: manifest.schemaVersion,
            sizeBytes: manifest.sizeBytes,
            sha256: manifest.sha256,
            signatureKeyId: manifest.signature.keyId,
            header: { database: header.database, archiveVersion: header.archiveVersion, pgDumpVersion: header.pgDumpVersion },
        };
    } catch (error) {
        if (error instanceof TenantBackupError) throw error;
        throw fail("corrupt", "verify dump", describe(error), undefined, error);
    } finally {
        download.destroy();
    }
}
