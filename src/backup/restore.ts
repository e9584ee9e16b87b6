/**
 * Restore without ever being without a database: the backup is restored into a new
 * database, verified against its manifest (sha256 and size of the dump, schema version, row
 * count of every table, owners, privileges and database settings), and only then do the
 * names switch: `erp_<id>` becomes `erp_<id>_before_restore_<ts>` and the restored database
 * becomes `erp_<id>`, in one transaction. The previous database is kept until dropped with
 * dropPreviousDatabase. Any failure before the switch drops the half-restored database and
 * leaves the live one exactly as it was.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Readable, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { TenantNames, tenantNames } from "../naming";
import { ArchiveHeader, ArchiveHeaderError, parseArchiveHeader } from "./archive-header";
import { BackupToolOptions, storeOf } from "./backup";
import { countRows, readDatabaseSnapshot, readObjectSnapshot, readSchemaVersion, readServerVersion } from "./catalog";
import { MAINTENANCE_DATABASE, connect } from "./connection";
import { BackupFaultKind, TenantBackupError, describe } from "./errors";
import { quoteIdentifier as ident, quoteLiteral as literal } from "../shared/sql";
import { assertTenantId } from "../config/tenant-id";
import { isBeforeRestoreDatabase, restoreDatabaseNames } from "../naming";
import { compactStamp } from "./stamps";
import { TenantBackupTarget } from "./inventory";
import { findBackups } from "./list";
import { BackupManifest, manifestKey, parseManifest, tenantBackupPrefix } from "./manifest";
import { PgTools, exitSummary, libpqEnv, locatePgTools, spawnTool, toolsProblem } from "./pg-tools";
import { applyDatabaseProperties, applyDeclaredSchemaPrivileges, transferOwnership } from "./privileges";
import { BackupStore, StoreError } from "./store";

export interface RestoreOptions extends BackupToolOptions {
    /** A backup key, or its timestamp (`20250101T020000.000Z`). Defaults to the newest complete backup. */
    readonly backup?: string;
    /** Report owner/privilege differences from the backup as warnings instead of failing. Defaults to false. */
    readonly allowPrivilegeDrift?: boolean;
    /** Build the restored database in this tablespace (e.g. a larger volume). */
    readonly tablespace?: string;
    /** How long sessions on the live database get to end before the switch gives up. Defaults to 15 s. */
    readonly terminateTimeoutMs?: number;
    /**
     * Parallel pg_restore jobs. Above 1 the dump is first downloaded to a private temporary file
     * (checksum verified before any database is created), then restored with `pg_restore -j`.
     * 1 streams the download straight into pg_restore, with no local copy. Defaults to
     * min(4, CPUs).
     */
    readonly jobs?: number;
    /** Folder for the temporary copy when jobs > 1. Defaults to the OS temp folder. */
    readonly tempDir?: string;
}

export function defaultRestoreJobs(): number {
    return Math.max(1, Math.min(4, os.cpus().length));
}

export interface RestoreResult {
    readonly tenantId: string;
    readonly key: string;
    readonly manifest: BackupManifest;
    /** Where the restored data is now: `erp_<id>` after a restore; the (dropped) scratch name after a drill. */
    readonly database: string;
    /** The previous live database, kept: `erp_<id>_before_restore_<ts>` (undefined for drills, or when there was none). */
    readonly previousDatabase?: string;
    /** Download, pg_restore, ownership and verification, in seconds. */
    readonly restoreSeconds: number;
    /** Differences tolerated by allowPrivilegeDrift. */
    readonly warnings: readonly string[];
}

type Fail = (kind: BackupFaultKind, step: string, problem: string, fix?: string, cause?: unknown) => TenantBackupError;

/** Restores a tenant's backup and switches it in as `erp_<id>`. */
export function restoreTenant(target: TenantBackupTarget, options: RestoreOptions = {}): Promise<RestoreResult> {
    return runRestore(target, options, "restore");
}

/** Restores a tenant's backup into a scratch database, verifies it and drops it (the drill). */
export function restoreScratch(target: TenantBackupTarget, options: RestoreOptions = {}): Promise<RestoreResult> {
    return runRestore(target, options, "drill");
}

/** The object key a `backup` option names. */
function requestedKey(store: BackupStore, tenantId: string, backup: string): string {
    if (backup.includes("/")) return backup;
    return `${tenantBackupPrefix(store.prefix, tenantId)}${backup.replace(/\.dump$/, "")}.dump`;
}

/** Reads and checks the manifest of `key`: it must exist, parse, and describe this tenant's `key`. */
export async function loadManifest(store: BackupStore, key: string, tenantId: string, fail: Fail): Promise<BackupManifest> {
    const names = tenantNames(tenantId);
    let text: string;
    try {
        text = await store.getText(manifestKey(key));
    } catch (error) {
        if (error instanceof StoreError && error.reason === "missing") {
            const dump = await store.head(key).catch(() => undefined);
            if (dump) {
                throw fail("corrupt", "read manifest", `backup ${key} has no manifest ${manifestKey(key)}: the backup did not finish and cannot be verified.`, "restore another backup (npm run backup -- list).", error);
            }
            throw fail("missing", "read manifest", `backup ${store.location}${key.slice(store.prefix.length)} does not exist.`, `list this tenant's backups with: npm run backup -- list ${tenantId}`, error);
        }
        throw fail("unreachable", "read manifest", describe(error), `check that ${store.location} exists and that these credentials may read it.`, error);
    }
    let manifest: BackupManifest;
    try {
        manifest = parseManifest(text);
    } catch (error) {
        throw fail("corrupt", "read manifest", `${manifestKey(key)}: ${describe(error)}.`, "restore another backup.", error);
    }
    if (manifest.tenantId !== tenantId || manifest.database !== names.database) {
        throw fail(
            "mismatch",
            "check manifest",
            `backup ${key} belongs to tenant ${manifest.tenantId} (database ${manifest.database}), not ${tenantId}; refusing to restore it.`,
            `pick one of this tenant's own backups: npm run backup -- list ${tenantId}`,
        );
    }
    if (manifest.key !== key) {
        throw fail("mismatch", "check manifest", `the manifest at ${manifestKey(key)} describes ${manifest.key}, not ${key}: the objects were copied or renamed.`, "restore a backup from where the backup job wrote it.");
    }
    return manifest;
}

async function runRestore(target: TenantBackupTarget, options: RestoreOptions, mode: "restore" | "drill"): Promise<RestoreResult> {
    const { tenantId, server } = target;
    const fail: Fail = (kind, step, problem, fix, cause) => new TenantBackupError(kind, tenantId, server.name, step, problem, fix, { cause });
    try {
        assertTenantId(tenantId);
    } catch (error) {
        throw fail("config", "validate", describe(error));
    }
    const log = options.log ?? (() => undefined);
    const now = options.now ?? (() => new Date());
    const started = performance.now();
    const names = tenantNames(tenantId);
    const databases = restoreDatabaseNames(tenantId, compactStamp(now()));
    const scratch = mode === "restore" ? databases.restore : databases.drill;
    const store = storeOf(target, options);

    // 1. Which backup, and is it this tenant's? Nothing on the server is touched yet.
    let key: string;
    if (options.backup) {
        key = requestedKey(store, tenantId, options.backup);
    } else {
        let backups;
        try {
            backups = await findBackups(store, tenantId);
        } catch (error) {
            throw fail("unreachable", "list backups", describe(error), `check that ${store.location} exists and that these credentials may list it.`, error);
        }
        const newest = backups.filter((entry) => entry.complete).at(-1);
        if (!newest) {
            throw fail("missing", "find latest backup", `no complete backup under ${store.location}backups/${tenantId}/.`, `run a backup first: npm run backup -- ${tenantId}`);
        }
        key = newest.key;
    }
    const manifest = await loadManifest(store, key, tenantId, fail);
    let head;
    try {
        head = await store.head(key);
    } catch (error) {
        throw fail("unreachable", "inspect dump", describe(error), `check that ${store.location} is readable.`, error);
    }
    if (!head) throw fail("missing", "inspect dump", `the dump ${key} is missing although its manifest exists.`, "restore another backup (npm run backup -- list).");
    if (head.metadata.tenant !== undefined && head.metadata.tenant !== tenantId) {
        throw fail("mismatch", "check dump metadata", `the dump ${key} is tagged tenant=${head.metadata.tenant}, not ${tenantId}; refusing to restore it.`, "pick one of this tenant's own backups.");
    }
    if (head.size !== manifest.sizeBytes) {
        throw fail("corrupt", "check dump size", `the dump ${key} has ${head.size} bytes but its manifest records ${manifest.sizeBytes} (truncated or replaced).`, "restore another backup.");
    }
    log(`${tenantId}: ${mode === "restore" ? "restoring" : "drilling"} ${key} (taken ${manifest.startedAt}, schema ${manifest.schemaVersion}) into ${scratch}`);

    // 2. The server: versions, a per-tenant lock, free names.
    let admin: Client;
    try {
        admin = await connect(server, MAINTENANCE_DATABASE);
    } catch (error) {
        throw fail("database", "connect", `cannot connect to ${server.host}:${server.port}/${MAINTENANCE_DATABASE} as ${server.user} (${describe(error)})`, "check that the server is reachable and the admin credentials are right.", error);
    }
    let created = false;
    /** Temporary files to remove however the restore ends. */
    const cleanups: (() => Promise<void>)[] = [];
    try {
        const version = await readServerVersion(admin);
        let tools: PgTools | undefined = options.tools;
        if (!tools) {
            try {
                tools = await locatePgTools();
            } catch (error) {
                throw fail("tools", "locate pg_restore", describe(error), undefined, error);
            }
        }
        const toolProblem = toolsProblem(tools, Math.max(version.major, Math.floor(manifest.serverVersionNum / 10000)));
        if (toolProblem) throw fail("tools", "check pg_restore version", toolProblem);

        const locked = await admin.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [`tenantdb restore ${names.database}`]);
        if (!locked.rows[0].ok) throw fail("busy", "lock tenant", `another restore or drill of ${names.database} is running.`, "wait for it to finish.");
        const existing = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = ANY($1::text[])", [
            [names.database, scratch, databases.beforeRestore],
        ]);
        const exists = new Set(existing.rows.map((row) => row.datname));
        for (const name of [scratch, databases.beforeRestore]) {
            if (exists.has(name)) throw fail("busy", "check names", `database ${name} already exists.`, "wait a second and retry (names carry the time to the second).");
        }

        // 3. The archive header names the database that was dumped: refuse another tenant's dump before creating anything.
        let download: Readable;
        try {
            download = await store.getStream(key);
        } catch (error) {
            const kind = error instanceof StoreError && error.reason === "missing" ? "missing" : "unreachable";
            throw fail(kind, "download dump", describe(error), `check that ${store.location} is readable.`, error);
        }
        const chunks = download[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const { header, buffered } = await readHeader(chunks, key, fail).catch((error) => {
            download.destroy();
            throw error;
        });
        if (header.database !== names.database) {
            download.destroy();
            throw fail("mismatch", "check archive header", `the dump ${key} is a dump of database ${header.database}, not ${names.database}; refusing to restore it.`, "pick one of this tenant's own backups.");
        }

        // 4. With parallel jobs: the whole dump in a private temporary file, its checksum verified
        //    before anything is created on the server.
        const jobs = options.jobs ?? defaultRestoreJobs();
        let localCopy: string | undefined;
        if (jobs > 1) {
            const folder = await mkdtemp(path.join(options.tempDir ?? os.tmpdir(), "tenantdb-restore-"));
            cleanups.push(() => rm(folder, { recursive: true, force: true }));
            localCopy = path.join(folder, "dump");
            const file = createWriteStream(localCopy, { mode: 0o600 });
            const written = new Promise<void>((resolve, reject) => {
                file.on("finish", resolve);
                file.on("error", reject);
            });
            let copied: { bytes: number; sha256: string };
            try {
                copied = await feed(buffered, chunks, file, new Promise(() => undefined));
                await written;
            } catch (error) {
                download.destroy();
                throw fail("unreachable", "download dump", `copying ${key} to ${folder} failed: ${describe(error)}`, "check the connection to the store and the free space in the temp folder (or pass --jobs 1 to stream without a local copy).", error);
            }
            if (copied.bytes !== manifest.sizeBytes || copied.sha256 !== manifest.sha256) {
                throw fail(
                    "corrupt",
                    "verify checksum",
                    `the dump ${key} does not match its manifest: read ${copied.bytes} bytes with sha256 ${copied.sha256}, the manifest records ${manifest.sizeBytes} bytes with sha256 ${manifest.sha256}.`,
                    "restore another backup (npm run backup -- list).",
                );
            }
        }

        // 5. A new database, closed to everyone but the admin while it is built.
        const recorded = manifest.databaseSnapshot;
        const locale =
            recorded.localeProvider === "icu"
                ? `LOCALE_PROVIDER icu ICU_LOCALE ${literal(recorded.iculocale ?? "und")}`
                : `LOCALE_PROVIDER ${recorded.localeProvider}`;
        try {
            await admin.query(
                `CREATE DATABASE ${ident(scratch)} TEMPLATE template0 ENCODING ${literal(recorded.encoding)} ` +
                    `LC_COLLATE ${literal(recorded.collate)} LC_CTYPE ${literal(recorded.ctype)} ${locale}` +
                    (options.tablespace ? ` TABLESPACE ${ident(options.tablespace)}` : ""),
            );
        } catch (error) {
            download.destroy();
            throw fail("database", "create database", `cannot create ${scratch}: ${describe(error)}`, `the admin ${server.user} needs CREATEDB (and the locale ${recorded.collate} must exist on the server).`, error);
        }
        created = true;
        await admin.query(`REVOKE ALL ON DATABASE ${ident(scratch)} FROM PUBLIC`);

        // 6. pg_restore: from the verified local copy with parallel jobs, or fed from the download
        //    while the sha256 is computed.
        // ACLs are restored (the roles they name exist on this server): objects a migration closed to
        // PUBLIC, such as the audit functions, must stay closed. Owners are set afterwards.
        const restoreArgs = ["--no-owner", "--exit-on-error", "--no-password", `--dbname=${scratch}`];
        if (localCopy) {
            const restore = spawnTool(tools.pgRestore, [...restoreArgs, `--jobs=${jobs}`, localCopy], libpqEnv(server, scratch), "pipe-out");
            restore.child.stdout!.resume();
            const exit = await restore.exited;
            if (exit.code !== 0) {
                throw fail("restore-failed", "pg_restore", exitSummary("pg_restore", exit), "free disk space on the server (or pass --tablespace on a larger volume) if it ran out; otherwise see pg_restore's message.");
            }
        } else {
            const restore = spawnTool(tools.pgRestore, restoreArgs, libpqEnv(server, scratch), "pipe-in");
            let fed: { bytes: number; sha256: string };
            try {
                fed = await feed(buffered, chunks, restore.child.stdin!, restore.exited);
            } catch (error) {
                restore.child.kill("SIGTERM");
                await restore.exited;
                throw fail("unreachable", "download dump", `reading ${key} failed mid-way: ${describe(error)}`, `check the connection to ${store.location} and retry.`, error);
            }
            const exit = await restore.exited;
            if (fed.bytes !== manifest.sizeBytes || fed.sha256 !== manifest.sha256) {
                throw fail(
                    "corrupt",
                    "verify checksum",
                    `the dump ${key} does not match its manifest: read ${fed.bytes} bytes with sha256 ${fed.sha256}, the manifest records ${manifest.sizeBytes} bytes with sha256 ${manifest.sha256}` +
                        (exit.code !== 0 ? ` (and ${exitSummary("pg_restore", exit)})` : "") + ".",
                    "restore another backup (npm run backup -- list).",
                );
            }
            if (exit.code !== 0) {
                throw fail("restore-failed", "pg_restore", exitSummary("pg_restore", exit), "free disk space on the server (or pass --tablespace on a larger volume) if it ran out; otherwise see pg_restore's message.");
            }
        }

        log(`${tenantId}: pg_restore finished after ${((performance.now() - started) / 1000).toFixed(1)} s; checksum matches`);

        // 7. Owners, grants, database settings; then hold the result to the manifest.
        const restored = await connect(server, scratch);
        let actual;
        try {
            await transferOwnership(restored, names.ownerRole);
            await applyDeclaredSchemaPrivileges(restored, names);
            actual = {
                tables: await countRows(restored),
                schema: await readSchemaVersion(restored),
                objects: await readObjectSnapshot(restored),
            };
        } catch (error) {
            throw fail("database", "set ownership and grants", describe(error), `the tenant's roles must exist and ${server.user} must be a superuser or a member of ${names.ownerRole}.`, error);
        } finally {
            await restored.end().catch(() => undefined);
        }
        try {
            await applyDatabaseProperties(admin, scratch, names, recorded);
        } catch (error) {
            throw fail("database", "set database properties", describe(error), `the tenant's roles must exist and ${server.user} must be a superuser or a member of ${names.ownerRole}.`, error);
        }
        const differences = compareWithManifest(manifest, { ...actual, database: await readDatabaseSnapshot(admin, scratch) });
        const warnings = options.allowPrivilegeDrift ? differences.privileges : [];
        const problems = [...differences.data, ...(options.allowPrivilegeDrift ? [] : differences.privileges)];
        if (problems.length > 0) {
            throw fail(
                "verify-failed",
                "verify",
                `${scratch} differs from what backup ${key} recorded: ${summarize(problems)}`,
                differences.data.length > 0
                    ? "restore another backup and report this one."
                    : "the live database carries owners or grants the component does not declare; declare them in the component, or pass --allow-privilege-drift to restore without them.",
            );
        }
        for (const warning of warnings) log(`${tenantId}: warning: ${warning}`);
        const restoreSeconds = (performance.now() - started) / 1000;
        log(`${tenantId}: ${scratch} verified (${Object.keys(manifest.tables).length} tables, sha256 ${manifest.sha256.slice(0, 12)}…) in ${restoreSeconds.toFixed(1)} s`);

        if (mode === "drill") {
            await dropDatabase(admin, scratch);
            created = false;
            return { tenantId, key, manifest, database: scratch, restoreSeconds, warnings };
        }

        // 8. The switch: the tenant always has a database named erp_<id>.
        await swap(admin, names, scratch, databases.beforeRestore, exists.has(names.database), options.terminateTimeoutMs ?? 15_000, fail, log);
        created = false;
        const previousDatabase = exists.has(names.database) ? databases.beforeRestore : undefined;
        log(
            `${tenantId}: ${names.database} now holds backup ${key}` +
                (previousDatabase ? `; the previous database is kept as ${previousDatabase} (connections disabled): drop it with npm run backup -- drop-previous ${tenantId} ${previousDatabase}` : ""),
        );
        return { tenantId, key, manifest, database: names.database, previousDatabase, restoreSeconds, warnings };
    } catch (error) {
        let cleanup = "";
        if (created) {
            try {
                await dropDatabase(admin, scratch);
            } catch (dropError) {
                cleanup = ` The half-restored database ${scratch} could not be dropped (${describe(dropError)}); drop it by hand.`;
            }
        }
        const wrapped = error instanceof TenantBackupError ? error : fail("database", mode, describe(error), undefined, error);
        if (!cleanup) throw wrapped;
        throw new TenantBackupError(wrapped.kind, tenantId, server.name, wrapped.step, wrapped.problem + cleanup, wrapped.fix, { cause: wrapped.cause });
    } finally {
        for (const cleanup of cleanups) await cleanup().catch(() => undefined);
        await admin.end().catch(() => undefined);
    }
}

async function readHeader(chunks: AsyncIterator<Buffer>, key: string, fail: Fail): Promise<{ header: ArchiveHeader; buffered: Buffer[] }> {
    const buffered: Buffer[] = [];
    for (;;) {
        let next: IteratorResult<Buffer>;
        try {
            next = await chunks.next();
        } catch (error) {
            throw fail("unreachable", "download dump", `reading ${key} failed: ${describe(error)}`, "check the connection to the bucket and retry.", error);
        }
        if (next.done) throw fail("corrupt", "check archive header", `the dump ${key} ends before its pg_dump header does.`, "restore another backup.");
        buffered.push(Buffer.from(next.value));
        try {
            const header = parseArchiveHeader(Buffer.concat(buffered));
            if (header) return { header, buffered };
        } catch (error) {
            if (error instanceof ArchiveHeaderError) {
                throw fail("corrupt", "check archive header", `the dump ${key} is not a pg_dump custom archive: ${error.message}.`, "restore another backup.");
            }
            throw error;
        }
    }
}

/**
 * Writes the download into pg_restore's stdin and hashes every byte. If pg_restore stops
 * reading (it failed), the rest is still read and hashed so the checksum verdict stays exact.
 */
async function feed(first: Buffer[], rest: AsyncIterator<Buffer>, stdin: Writable, exited: Promise<unknown>): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash("sha256");
    let bytes = 0;
    let open = true;
    let wake: (() => void) | undefined;
    stdin.on("error", () => {
        open = false; // EPIPE: pg_restore exited; its status tells why
    });
    void exited.then(() => {
        open = false;
        wake?.();
    });
    const writable = () =>
        new Promise<void>((resolve) => {
            const done = () => {
                stdin.off("drain", done);
                stdin.off("close", done);
                wake = undefined;
                resolve();
            };
            wake = done;
            stdin.on("drain", done);
            stdin.on("close", done);
        });
    const write = async (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (open && !stdin.write(chunk)) await writable();
    };
    for (const chunk of first) await write(chunk);
    for (;;) {
        const next = await rest.next();
        if (next.done) break;
        await write(Buffer.from(next.value));
    }
    if (open) stdin.end();
    return { bytes, sha256: hash.digest("hex") };
}

/** Differences between a restored database and its manifest: data first, owners and privileges apart. */
export function compareWithManifest(
    manifest: BackupManifest,
    actual: {
        tables: Record<string, number>;
        schema: { schemaVersion: string; migrationsApplied: number };
        objects: BackupManifest["objects"];
        database: BackupManifest["databaseSnapshot"];
    },
): { data: string[]; privileges: string[] } {
    const data: string[] = [];
    const privileges: string[] = [];
    if (actual.schema.schemaVersion !== manifest.schemaVersion || actual.schema.migrationsApplied !== manifest.migrationsApplied) {
        data.push(`schema version ${actual.schema.schemaVersion} (${actual.schema.migrationsApplied} migrations), expected ${manifest.schemaVersion} (${manifest.migrationsApplied})`);
    }
    for (const table of new Set([...Object.keys(manifest.tables), ...Object.keys(actual.tables)])) {
        const expected = manifest.tables[table];
        const found = actual.tables[table];
        if (expected === undefined) data.push(`table ${table} is not in the backup`);
        else if (found === undefined) data.push(`table ${table} is missing`);
        else if (expected !== found) data.push(`table ${table} has ${found} rows, expected ${expected}`);
    }
    const recordedObjects = new Map(manifest.objects.map((o) => [`${o.kind} ${o.name}`, o]));
    const actualObjects = new Map(actual.objects.map((o) => [`${o.kind} ${o.name}`, o]));
    for (const [name, expected] of recordedObjects) {
        const found = actualObjects.get(name);
        if (!found) {
            (expected.kind === "default privileges" ? privileges : data).push(`${name} is missing`);
            continue;
        }
        if (found.owner !== expected.owner) privileges.push(`${name} is owned by ${found.owner}, expected ${expected.owner}`);
        const diff = aclDiff(expected.acl, found.acl);
        if (diff) privileges.push(`${name} privileges ${diff}`);
    }
    for (const [name, found] of actualObjects) {
        if (!recordedObjects.has(name)) (found.kind === "default privileges" ? privileges : data).push(`${name} is not in the backup`);
    }
    const expected = manifest.databaseSnapshot;
    const found = actual.database;
    if (found.owner !== expected.owner) privileges.push(`database owner is ${found.owner}, expected ${expected.owner}`);
    const dbAcl = aclDiff(expected.acl, found.acl);
    if (dbAcl) privileges.push(`database privileges ${dbAcl}`);
    if (found.connectionLimit !== expected.connectionLimit) data.push(`connection limit is ${found.connectionLimit}, expected ${expected.connectionLimit}`);
    if (found.settings.join("\n") !== expected.settings.join("\n")) data.push(`database settings are [${found.settings.join(", ")}], expected [${expected.settings.join(", ")}]`);
    if (JSON.stringify(found.roleSettings) !== JSON.stringify(expected.roleSettings)) {
        data.push(`role settings in the database are ${JSON.stringify(found.roleSettings)}, expected ${JSON.stringify(expected.roleSettings)}`);
    }
    for (const field of ["encoding", "collate", "ctype"] as const) {
        if (found[field] !== expected[field]) data.push(`database ${field} is ${found[field]}, expected ${expected[field]}`);
    }
    return { data, privileges };
}

function aclDiff(expected: readonly string[], found: readonly string[]): string | undefined {
    const lacking = expected.filter((entry) => !found.includes(entry));
    const extra = found.filter((entry) => !expected.includes(entry));
    if (lacking.length === 0 && extra.length === 0) return undefined;
    return [lacking.length ? `lack ${lacking.join(", ")}` : "", extra.length ? `add ${extra.join(", ")}` : ""].filter(Boolean).join("; ");
}

function summarize(problems: readonly string[]): string {
    const shown = problems.slice(0, 8).join("; ");
    return problems.length > 8 ? `${shown}; and ${problems.length - 8} more` : shown;
}

async function dropDatabase(admin: Client, database: string): Promise<void> {
    await admin.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`);
}

/**
 * Closes the live database to new sessions, ends the open ones, and renames both databases
 * in one transaction. On failure the live database is reopened and keeps its name.
 */
async function swap(admin: Client, names: TenantNames, restored: string, beforeRestore: string, liveExists: boolean, timeoutMs: number, fail: Fail, log: (line: string) => void): Promise<void> {
    const live = ident(names.database);
    if (!liveExists) {
        log(`${names.database}: there is no live database; the restored one takes its name`);
        await admin.query(`ALTER DATABASE ${ident(restored)} RENAME TO ${live}`);
        return;
    }
    await admin.query(`ALTER DATABASE ${live} WITH ALLOW_CONNECTIONS false`);
    try {
        const deadline = Date.now() + timeoutMs;
        let terminated = 0;
        for (;;) {
            const { rows } = await admin.query<{ n: number }>(
                `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 1000))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
                [names.database],
            );
            terminated += rows[0].n;
            const { rows: left } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1`, [names.database]);
            if (left[0].n === 0) break;
            if (Date.now() > deadline) {
                throw fail("swap-failed", "terminate sessions", `${left[0].n} session(s) on ${names.database} did not end within ${timeoutMs} ms.`, "retry; the live database was reopened and is unchanged.");
            }
            await sleep(100);
        }
        if (terminated > 0) log(`${names.database}: ended ${terminated} session(s)`);
        await admin.query("BEGIN");
        try {
            await admin.query(`ALTER DATABASE ${live} RENAME TO ${ident(beforeRestore)}`);
            await admin.query(`ALTER DATABASE ${ident(restored)} RENAME TO ${live}`);
            await admin.query("COMMIT");
        } catch (error) {
            await admin.query("ROLLBACK").catch(() => undefined);
            throw fail("swap-failed", "rename databases", describe(error), "retry; the live database was reopened and is unchanged.", error);
        }
    } catch (error) {
        await admin.query(`ALTER DATABASE ${live} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
        throw error;
    }
}

/** Before-restore copies of a tenant's database that are still on the server. */
export async function listPreviousDatabases(target: TenantBackupTarget): Promise<string[]> {
    const admin = await connect(target.server, MAINTENANCE_DATABASE);
    try {
        const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", [
            `${tenantNames(target.tenantId).database}_before_restore_`,
        ]);
        return rows.map((row) => row.datname).filter((name) => isBeforeRestoreDatabase(target.tenantId, name));
    } finally {
        await admin.end().catch(() => undefined);
    }
}

/** Drops a before-restore copy; refuses any name that is not `erp_<id>_before_restore_<14 digits>`. */
export async function dropPreviousDatabase(target: TenantBackupTarget, database: string): Promise<void> {
    if (!isBeforeRestoreDatabase(target.tenantId, database)) {
        throw new TenantBackupError("config", target.tenantId, target.server.name, "drop previous database", `${database} is not a before-restore copy of ${tenantNames(target.tenantId).database}; refusing to drop it.`, `list the copies with: npm run backup -- drop-previous ${target.tenantId}`);
    }
    const admin = await connect(target.server, MAINTENANCE_DATABASE);
    try {
        // A name can look like a copy and be another tenant's live database (tenant id
        // `<id>_before_restore_<digits>`): only a database owned by this tenant's owner role and
        // closed to connections, as the switch leaves it, is dropped.
        const { rows } = await admin.query<{ owner: string; datallowconn: boolean }>(
            "SELECT pg_get_userbyid(datdba) AS owner, datallowconn FROM pg_database WHERE datname = $1",
            [database],
        );
        const names = tenantNames(target.tenantId);
        if (rows.length === 0) {
            throw new TenantBackupError("config", target.tenantId, target.server.name, "drop previous database", `${database} does not exist.`, `list the copies with: npm run backup -- drop-previous ${target.tenantId}`);
        }
        if (rows[0].owner !== names.ownerRole || rows[0].datallowconn) {
            throw new TenantBackupError(
                "config",
                target.tenantId,
                target.server.name,
                "drop previous database",
                `${database} is owned by ${rows[0].owner} and ${rows[0].datallowconn ? "accepts" : "refuses"} connections; a before-restore copy of ${names.database} is owned by ${names.ownerRole} and refuses connections. Refusing to drop it.`,
                "drop it by hand if you are sure.",
            );
        }
        await dropDatabase(admin, database);
    } finally {
        await admin.end().catch(() => undefined);
    }
}
