/**
 * The context every restore phase works on. What a run knows grows phase by phase (a chosen
 * backup, then a server session, then an opened dump), each stage a type of its own, so a phase
 * can only use what the phases before it established. What the run creates on the way is
 * recorded in `created`, which the one cleanup (cleanup.ts) undoes.
 */
import { Readable } from "node:stream";
import { Client } from "pg";
import { requireSigningKey, storeOf } from "../backup";
import { assertTenantId } from "../../config/tenant-id";
import { Fail, describe, failFor } from "../errors";
import { BackupServer, TenantBackupTarget } from "../inventory";
import { BackupManifest } from "../manifest";
import { ManifestSigningKey } from "../signing";
import { PgTools, RunningTool } from "../pg-tools";
import { compactStamp } from "../stamps";
import { BackupStore } from "../store";
import { RestoreDatabaseNames, TenantNames, restoreDatabaseNames, tenantNames } from "../../naming";
import { RestoreOptions } from "./options";

/** A restore switches the result in as `erp_<id>`; a drill verifies it and drops it. */
export type RestoreMode = "restore" | "drill";

/**
 * What a run has opened or created and still holds. A phase records a thing as soon as it exists
 * and forgets it only once it has left the run's hands: the scratch database when it has been
 * switched in or dropped, the scratch session when it is closed before the switch.
 */
export interface Created {
    /** Holds the tenant's advisory lock until it ends. */
    admin?: Client;
    download?: Readable;
    tempFolder?: string;
    /** The half-restored database, until it is switched in or dropped. */
    scratchDatabase?: string;
    pgRestore?: RunningTool;
    scratchSession?: Client;
    /** Login roles the quiesce blocked; they log in again when the run ends. */
    quiesced?: string[];
}

/** What a run knows before it reads the store or touches the server. */
export interface RestoreRun {
    readonly mode: RestoreMode;
    readonly tenantId: string;
    readonly server: BackupServer;
    readonly names: TenantNames;
    readonly databases: RestoreDatabaseNames;
    /** Where the backup is restored and verified: the restore or the drill name in `databases`. */
    readonly scratch: string;
    readonly store: BackupStore;
    /** Authenticates the manifest before anything in it is trusted. */
    readonly signingKey: ManifestSigningKey;
    readonly options: RestoreOptions;
    readonly log: (line: string) => void;
    readonly fail: Fail;
    /** performance.now() when the run began: restoreSeconds counts from here. */
    readonly startedAt: number;
    readonly created: Created;
}

/** The backup to restore, its manifest read and its dump object checked against it. */
export interface ChosenBackup extends RestoreRun {
    readonly key: string;
    readonly manifest: BackupManifest;
}

/** Connected to the server as the admin, holding the tenant's restore lock, the new names free. */
export interface ServerSession extends ChosenBackup {
    readonly admin: Client;
    readonly tools: PgTools;
    /** Without a live database the switch is a plain rename and nothing is kept. */
    readonly liveExists: boolean;
}

/** The download, past its checked archive header; with parallel jobs, copied to a verified local file. */
export interface OpenedDump extends ServerSession {
    /** What reading the header took from the download: pg_restore gets these first. */
    readonly headerChunks: readonly Buffer[];
    readonly remainingChunks: AsyncIterator<Buffer>;
    readonly jobs: number;
    /** Set when jobs > 1: pg_restore reads this file instead of the download. */
    readonly localCopy?: string;
}

/** Validates the tenant id and derives every name; opens nothing. */
export function beginRun(target: TenantBackupTarget, options: RestoreOptions, mode: RestoreMode): RestoreRun {
    const { tenantId, server } = target;
    const fail = failFor(tenantId, server.name);
    try {
        assertTenantId(tenantId);
    } catch (error) {
        throw fail("config", "validate", describe(error));
    }
    const signingKey = requireSigningKey(options, fail);
    const now = options.now ?? (() => new Date());
    const startedAt = performance.now();
    const databases = restoreDatabaseNames(tenantId, compactStamp(now()));
    return {
        mode,
        tenantId,
        server,
        names: tenantNames(tenantId),
        databases,
        scratch: mode === "restore" ? databases.restore : databases.drill,
        store: storeOf(target, options),
        signingKey,
        options,
        log: options.log ?? (() => undefined),
        fail,
        startedAt,
        created: {},
    };
}
