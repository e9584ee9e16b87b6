/**
 * The manifest: a small JSON object written next to each dump (`<key>.json`) after the dump
 * has been streamed and pg_dump has exited 0. It holds what is only known at the end (size,
 * sha256, finish time) and what restore verifies against (row counts per table, schema
 * version, owners and privileges, database settings), all read in the snapshot pg_dump used.
 * A dump without a manifest is incomplete and is never restored. The manifest is signed
 * (signing.ts): a restore trusts nothing in it, the checksum included, before the signature
 * verifies under the operator's key.
 */
import { z } from "zod";
import { ManifestSignature, ManifestSigningKey, SIGNATURE_ALGORITHM, signPayload, signatureProblem } from "./signing";
import { backupStamp, parseBackupStamp } from "./stamps";

/** /2: signed, and with object definitions. A /1 manifest carries neither and is not restored. */
export const MANIFEST_FORMAT = "tenantdb-backup/2";

const objectSnapshotSchema = z.strictObject({
    kind: z.string(),
    name: z.string(),
    owner: z.string(),
    /** Privileges as sorted `grantee=PRIVILEGE[*]` entries (`*` = grant option); defaults made explicit. */
    acl: z.array(z.string()),
});

const databaseSnapshotSchema = z.strictObject({
    owner: z.string(),
    encoding: z.string(),
    collate: z.string(),
    ctype: z.string(),
    localeProvider: z.enum(["libc", "icu", "builtin"]),
    iculocale: z.string().nullable(),
    connectionLimit: z.number().int(),
    acl: z.array(z.string()),
    /** `ALTER DATABASE ... SET` entries, `name=value`, sorted. */
    settings: z.array(z.string()),
    /** `ALTER ROLE ... IN DATABASE ... SET` entries, sorted by role. */
    roleSettings: z.array(z.strictObject({ role: z.string(), settings: z.array(z.string()) })),
});

export const manifestSchema = z.strictObject({
    format: z.literal(MANIFEST_FORMAT),
    tenantId: z.string(),
    database: z.string(),
    server: z.string(),
    /** Object key of the dump this manifest describes. */
    key: z.string(),
    startedAt: z.iso.datetime(),
    finishedAt: z.iso.datetime(),
    sizeBytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    serverVersion: z.string(),
    serverVersionNum: z.number().int(),
    pgDumpVersion: z.string(),
    /** Latest applied migration (`tenantdb.migrations`), or `none`. */
    schemaVersion: z.string(),
    migrationsApplied: z.number().int().nonnegative(),
    /** Exact row count of every table (`"schema"."table"` as quote_ident renders it), same snapshot as the dump. */
    tables: z.record(z.string(), z.number().int().nonnegative()),
    databaseSnapshot: databaseSnapshotSchema,
    objects: z.array(objectSnapshotSchema),
    /**
     * sha256 of every object's definition (`<kind> <name>` -> hex): function bodies, view
     * queries, columns, constraints, indexes, triggers, policies. Counts and ACLs cannot see
     * an edited function body; this can.
     */
    definitions: z.record(z.string(), z.string().regex(/^[0-9a-f]{64}$/)),
    signature: z.strictObject({
        algorithm: z.literal(SIGNATURE_ALGORITHM),
        keyId: z.string().regex(/^[0-9a-f]{16}$/),
        value: z.string().regex(/^[0-9a-f]{64}$/),
    }),
});

export type BackupManifest = z.infer<typeof manifestSchema>;
export type UnsignedManifest = Omit<BackupManifest, "signature">;
export type DatabaseSnapshot = z.infer<typeof databaseSnapshotSchema>;
export type ObjectSnapshot = z.infer<typeof objectSnapshotSchema>;

/** `<prefix>backups/<tenant>/`: every backup of a tenant lives under it. */
export function tenantBackupPrefix(storePrefix: string, tenantId: string): string {
    return `${storePrefix}backups/${tenantId}/`;
}

/** `<prefix>backups/<tenant>/<YYYYMMDDTHHMMSS.mmmZ>.dump`. */
export function backupKey(storePrefix: string, tenantId: string, startedAt: Date): string {
    return `${tenantBackupPrefix(storePrefix, tenantId)}${backupStamp(startedAt)}.dump`;
}

export function manifestKey(dumpKey: string): string {
    return `${dumpKey}.json`;
}

/** The time a dump key was started at, or undefined when the key is not a backup key. */
export function backupKeyTime(key: string): Date | undefined {
    const match = /\/([^/]+)\.dump$/.exec(key);
    return match ? parseBackupStamp(match[1]) : undefined;
}

export function signManifest(unsigned: UnsignedManifest, key: ManifestSigningKey): BackupManifest {
    const signature: ManifestSignature = signPayload(key, unsigned.tenantId, unsigned);
    return { ...unsigned, signature };
}

/**
 * Why the manifest is not authentic for `tenantId`, or undefined when it is. The tenant the
 * restore is for, not the one the manifest names, keys the check: a manifest of tenant A
 * copied under tenant B fails here even before its tenant id is compared.
 */
export function manifestAuthenticityProblem(manifest: BackupManifest, tenantId: string, key: ManifestSigningKey): string | undefined {
    const { signature, ...unsigned } = manifest;
    return signatureProblem(key, tenantId, unsigned, signature);
}

/** Parses a manifest; throws a message saying what is wrong with it. */
export function parseManifest(text: string): BackupManifest {
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch (error) {
        throw new Error(`the manifest is not valid JSON (${(error as Error).message})`, { cause: error });
    }
    if ((raw as { format?: unknown } | null)?.format === "tenantdb-backup/1") {
        throw new Error(
            `the manifest is a tenantdb-backup/1 manifest, written before manifests were signed, so it cannot be authenticated`,
        );
    }
    const parsed = manifestSchema.safeParse(raw);
    if (!parsed.success) {
        throw new Error(
            `the manifest is not a ${MANIFEST_FORMAT} manifest (${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")})`,
        );
    }
    return parsed.data;
}
