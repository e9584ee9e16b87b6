/**
 * Backup: `pg_dump --format=custom` of one tenant database, streamed into the tenant's
 * bucket while its sha256 is computed, then a manifest `<key>.json` with what only the end
 * of the stream knows. Row counts, schema version, owners and privileges are read in the
 * very snapshot pg_dump dumps (exported from a REPEATABLE READ transaction, passed with
 * --snapshot), so restore can hold the dump to them exactly.
 */
import { createHash } from "node:crypto";
import { Transform, TransformCallback } from "node:stream";
import pLimit from "p-limit";
import { Client } from "pg";
import { tenantNames } from "../naming";
import { connect } from "./connection";
import { TenantBackupError, describe } from "./errors";
import { assertTenantId } from "../config/tenant-id";
import { TenantBackupTarget } from "./inventory";
import { readDefinitions } from "./definitions";
import { BackupManifest, MANIFEST_FORMAT, backupKey, manifestKey, signManifest } from "./manifest";
import { ManifestSigningKey, SIGNING_KEY_FIX } from "./signing";
import { PgTools, exitSummary, libpqEnv, locatePgTools, spawnTool, toolsProblem } from "./pg-tools";
import { countRows, readDatabaseSnapshot, readObjectSnapshot, readSchemaVersion, readServerVersion } from "./catalog";
import { BackupStore, StoreError, StoreOptions, openStore } from "./store";

/** Options shared by backup, restore, drill and list. */
export interface BackupToolOptions {
    /** The store of a tenant; defaults to openStore(target, storeOptions). */
    readonly storeFor?: (target: TenantBackupTarget) => BackupStore;
    readonly storeOptions?: StoreOptions;
    /** pg_dump/pg_restore; located (PG_BIN_DIR, PATH) when omitted. */
    readonly tools?: PgTools;
    /** Progress lines (no secrets are ever passed to it). Defaults to silence. */
    readonly log?: (line: string) => void;
    /** Clock, for tests. */
    readonly now?: () => Date;
    /**
     * Signs manifests (backup) and authenticates them (restore, drill). Required by both; the
     * CLI reads it from the inventory's signingKeyEnv (TENANTDB_BACKUP_SIGNING_KEY).
     */
    readonly signingKey?: ManifestSigningKey;
}

/** The signing key of `options`, or the config error that says how to provide one. */
export function requireSigningKey(options: BackupToolOptions, fail: (kind: "config", step: string, problem: string, fix: string) => Error) {
    if (options.signingKey) return options.signingKey;
    throw fail(
        "config",
        "signing key",
        "no backup signing key is configured: manifests are signed so that a restore can tell a tampered backup.",
        `set TENANTDB_BACKUP_SIGNING_KEY (or the inventory's signingKeyEnv); ${SIGNING_KEY_FIX}.`,
    );
}

export interface BackupOptions extends BackupToolOptions {
    /** pg_dump --lock-wait-timeout: give up rather than queue behind a long DDL lock. Defaults to 5 minutes. */
    readonly lockWaitTimeout?: string;
}

export interface BackupResult {
    readonly tenantId: string;
    /** Object key of the dump; the manifest is at `${key}.json`. */
    readonly key: string;
    readonly location: string;
    /** Where the dump is: `s3://bucket/prefix/backups/<id>/<stamp>.dump` or `file:///...`. */
    readonly uri: string;
    readonly manifest: BackupManifest;
}

export function storeOf(target: TenantBackupTarget, options: BackupToolOptions): BackupStore {
    return options.storeFor ? options.storeFor(target) : openStore(target, options.storeOptions);
}

/** Counts bytes and computes the sha256 of what flows through. */
class DigestStream extends Transform {
    private readonly hash = createHash("sha256");
    bytes = 0;
    override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        this.hash.update(chunk);
        this.bytes += chunk.length;
        callback(null, chunk);
    }
    digest(): string {
        return this.hash.digest("hex");
    }
}

/** Observes a promise at once (no unhandled rejection while other steps run); `onError` runs on rejection. */
function settle<T>(promise: Promise<T>, onError?: () => void): Promise<PromiseSettledResult<T>> {
    return promise.then(
        (value) => ({ status: "fulfilled", value }),
        (reason: unknown) => {
            onError?.();
            return { status: "rejected", reason };
        },
    );
}

/** S3 user metadata must be ASCII. */
const metadataValue = (value: string) => encodeURIComponent(value);

/** Backs up one tenant. Throws TenantBackupError; on failure no manifest is written and the partial dump is removed. */
export async function backupTenant(target: TenantBackupTarget, options: BackupOptions = {}): Promise<BackupResult> {
    const { tenantId, server } = target;
    const fail = (kind: TenantBackupError["kind"], step: string, problem: string, fix?: string, cause?: unknown) =>
        new TenantBackupError(kind, tenantId, server.name, step, problem, fix, { cause });
    try {
        assertTenantId(tenantId);
    } catch (error) {
        throw fail("config", "validate", describe(error));
    }
    if (options.lockWaitTimeout !== undefined && !/^\d+(ms|s|min|h)?$/.test(options.lockWaitTimeout)) {
        throw fail(
            "config",
            "validate",
            `lock wait timeout ${JSON.stringify(options.lockWaitTimeout)} is not a PostgreSQL duration such as 30s or 5min.`,
        );
    }
    const signingKey = requireSigningKey(options, fail);
    const log = options.log ?? (() => undefined);
    const now = options.now ?? (() => new Date());
    const names = tenantNames(tenantId);
    const store = storeOf(target, options);

    let client: Client;
    try {
        client = await connect(server, names.database);
    } catch (error) {
        throw fail(
            "database",
            "connect",
            `cannot connect to database ${names.database} on ${server.host}:${server.port} as ${server.user} (${describe(error)})`,
            `check that the server is reachable, the database exists and ${server.user} is a superuser or a member of ${names.ownerRole}.`,
            error,
        );
    }
    let key: string | undefined;
    try {
        const version = await readServerVersion(client);
        let tools = options.tools;
        if (!tools) {
            try {
                tools = await locatePgTools();
            } catch (error) {
                throw fail("tools", "locate pg_dump", describe(error), undefined, error);
            }
        }
        const toolProblem = toolsProblem(tools, version.major);
        if (toolProblem) throw fail("tools", "check pg_dump version", toolProblem);

        const lockWaitTimeout = options.lockWaitTimeout ?? "5min";
        await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        // The row counts take the same locks as pg_dump; they give up as soon as it would.
        await client.query("SELECT set_config('lock_timeout', $1, true)", [lockWaitTimeout]);
        const snapshot = (await client.query<{ id: string }>("SELECT pg_export_snapshot() AS id")).rows[0].id;
        const schema = await readSchemaVersion(client);
        const startedAt = now();
        key = backupKey(store.prefix, tenantId, startedAt);
        log(
            `${tenantId}: dumping ${names.database} (schema ${schema.schemaVersion}) to ${store.location}${key.slice(store.prefix.length)}`,
        );

        const dump = spawnTool(
            tools.pgDump,
            ["--format=custom", `--snapshot=${snapshot}`, "--no-password", `--lock-wait-timeout=${lockWaitTimeout}`],
            libpqEnv(server, names.database),
            "pipe-out",
        );
        const digest = new DigestStream();
        // End the stream only once pg_dump has exited 0: a failed dump must never look complete.
        dump.child.stdout!.pipe(digest, { end: false });
        const uploaded = settle(
            store.upload(key, digest, {
                tenant: tenantId,
                database: names.database,
                server: metadataValue(server.name),
                "schema-version": metadataValue(schema.schemaVersion),
                "postgres-version": version.text,
                "started-at": startedAt.toISOString(),
            }),
            // pg_dump would block on a full pipe forever once nobody reads it.
            () => dump.child.kill("SIGTERM"),
        );
        const catalog = settle(
            (async () => ({
                tables: await countRows(client),
                databaseSnapshot: await readDatabaseSnapshot(client, names.database),
                objects: await readObjectSnapshot(client),
                definitions: await readDefinitions(client),
            }))(),
        );
        const exit = await dump.exited;
        if (exit.code === 0) digest.end();
        else digest.destroy(new Error(exitSummary("pg_dump", exit)));
        const [uploadOutcome, catalogOutcome] = await Promise.all([uploaded, catalog]);
        // Root causes first: a store failure kills pg_dump, and a failed count aborts the
        // snapshot's transaction, which makes pg_dump fail to import the snapshot.
        if (uploadOutcome.status === "rejected" && uploadOutcome.reason instanceof StoreError) {
            throw fail(
                "unreachable",
                "upload dump",
                uploadOutcome.reason.message,
                `check that ${store.location} exists and that these credentials may write to it${target.kmsKeyId ? ` and use KMS key ${target.kmsKeyId}` : ""}.`,
                uploadOutcome.reason,
            );
        }
        if (catalogOutcome.status === "rejected") {
            throw fail(
                "database",
                "count rows",
                describe(catalogOutcome.reason),
                "if a lock timed out, retry when the blocking DDL is done.",
                catalogOutcome.reason,
            );
        }
        if (exit.code !== 0) {
            throw fail("database", "pg_dump", exitSummary("pg_dump", exit), "see pg_dump's message; the live database was only read.");
        }
        if (uploadOutcome.status === "rejected")
            throw fail("unreachable", "upload dump", describe(uploadOutcome.reason), undefined, uploadOutcome.reason);
        await client.query("COMMIT");
        const finishedAt = now();
        const manifest: BackupManifest = signManifest(
            {
                format: MANIFEST_FORMAT,
                tenantId,
                database: names.database,
                server: server.name,
                key,
                startedAt: startedAt.toISOString(),
                finishedAt: finishedAt.toISOString(),
                sizeBytes: digest.bytes,
                sha256: digest.digest(),
                serverVersion: version.text,
                serverVersionNum: version.num,
                pgDumpVersion: tools.pgDump.version,
                schemaVersion: schema.schemaVersion,
                migrationsApplied: schema.migrationsApplied,
                ...catalogOutcome.value,
            },
            signingKey,
        );
        try {
            await store.putText(manifestKey(key), `${JSON.stringify(manifest, null, 2)}\n`, { tenant: tenantId, database: names.database });
        } catch (error) {
            throw fail("unreachable", "write manifest", describe(error), `check that ${store.location} is writable.`, error);
        }
        const rows = Object.values(manifest.tables).reduce((sum, n) => sum + n, 0);
        log(
            `${tenantId}: backed up ${manifest.sizeBytes} bytes, ${Object.keys(manifest.tables).length} tables, ${rows} rows, sha256 ${manifest.sha256}`,
        );
        return { tenantId, key, location: store.location, uri: `${store.location}${key.slice(store.prefix.length)}`, manifest };
    } catch (error) {
        // Best effort: on AWS the job role has no s3:DeleteObject (backups are append-only), so a
        // leftover dump stays until the lifecycle expires it. Without a manifest it is never
        // listed as complete or restored.
        if (key) await store.remove(key).catch(() => undefined);
        if (error instanceof TenantBackupError) throw error;
        throw fail("database", "backup", describe(error), undefined, error);
    } finally {
        await client.end().catch(() => undefined);
    }
}

export interface TenantOutcome<T> {
    readonly tenantId: string;
    readonly result?: T;
    readonly error?: TenantBackupError;
}

/** Backs up several tenants, at most `concurrency` at once; one failure never stops the others. */
export async function backupTenants(
    targets: readonly TenantBackupTarget[],
    options: BackupOptions & { concurrency?: number } = {},
): Promise<TenantOutcome<BackupResult>[]> {
    const limit = pLimit(options.concurrency ?? 4);
    let tools = options.tools;
    return Promise.all(
        targets.map((target) =>
            limit(async (): Promise<TenantOutcome<BackupResult>> => {
                try {
                    tools ??= await locatePgTools();
                    return { tenantId: target.tenantId, result: await backupTenant(target, { ...options, tools }) };
                } catch (error) {
                    const wrapped =
                        error instanceof TenantBackupError
                            ? error
                            : new TenantBackupError(
                                  "tools",
                                  target.tenantId,
                                  target.server.name,
                                  "locate pg_dump",
                                  describe(error),
                                  undefined,
                                  { cause: error },
                              );
                    return { tenantId: target.tenantId, error: wrapped };
                }
            }),
        ),
    );
}
