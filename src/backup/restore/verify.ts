/**
 * Every check of restored bytes and data against the manifest: the dump's checksum (on the
 * local copy, or on the stream pg_restore read), then phase 7, which gives the restored objects
 * their owners, grants and database settings and holds the result to what the backup recorded.
 */
import { countRows, readDatabaseSnapshot, readObjectSnapshot, readSchemaVersion, readServerVersion } from "../catalog";
import { definitionDifferences, readDefinitions } from "../definitions";
import { connect } from "../connection";
import { describe } from "../errors";
import { ChildExit, exitSummary } from "../pg-tools";
import { applyDatabaseProperties, applyDeclaredSchemaPrivileges, transferOwnership } from "../privileges";
import { closeScratchSession } from "./cleanup";
import { compareWithManifest, summarize } from "./compare";
import { ChosenBackup, ServerSession } from "./context";
import { foreignTenantRoles } from "./foreign-roles";
import { Digest } from "./feed";

/**
 * Throws unless `read` is the dump the manifest records. A pg_restore that failed on a dump
 * that does not match failed because of it, so its exit is only mentioned.
 */
export function verifyDigest(
    { key, manifest, fail }: Pick<ChosenBackup, "key" | "manifest" | "fail">,
    read: Digest,
    pgRestoreExit?: ChildExit,
): void {
    if (read.bytes === manifest.sizeBytes && read.sha256 === manifest.sha256) return;
    const alsoFailed = pgRestoreExit && pgRestoreExit.code !== 0 ? ` (and ${exitSummary("pg_restore", pgRestoreExit)})` : "";
    throw fail(
        "corrupt",
        "verify checksum",
        `the dump ${key} does not match its manifest: read ${read.bytes} bytes with sha256 ${read.sha256}, ` +
            `the manifest records ${manifest.sizeBytes} bytes with sha256 ${manifest.sha256}${alsoFailed}.`,
        "restore another backup (npm run backup -- list).",
    );
}

export interface Verified {
    /** Differences tolerated by allowPrivilegeDrift. */
    readonly warnings: readonly string[];
    readonly restoreSeconds: number;
}

/** Phase 7: owners, grants and database settings, then every table, object and setting held to the manifest. */
export async function verifyRestored(session: ServerSession): Promise<Verified> {
    const { tenantId, server, names, admin, scratch, key, manifest, options, log, fail, created } = session;
    const rolesFix = `the tenant's roles must exist and ${server.user} must be a superuser or a member of ${names.ownerRole}.`;
    const restored = await connect(server, scratch);
    created.scratchSession = restored;
    let actual;
    try {
        await transferOwnership(restored, names.ownerRole);
        await applyDeclaredSchemaPrivileges(restored, names);
        actual = {
            tables: await countRows(restored),
            schema: await readSchemaVersion(restored),
            objects: await readObjectSnapshot(restored),
            definitions: await readDefinitions(restored),
            major: (await readServerVersion(restored)).major,
        };
    } catch (error) {
        throw fail("database", "set ownership and grants", describe(error), rolesFix, error);
    }
    await closeScratchSession(created);
    try {
        await applyDatabaseProperties(admin, scratch, names, manifest.databaseSnapshot);
    } catch (error) {
        throw fail("database", "set database properties", describe(error), rolesFix, error);
    }

    const database = await readDatabaseSnapshot(admin, scratch);
    // Final: the dump's own GRANTs came back with it, and no option lets another tenant's roles in.
    const foreign = foreignTenantRoles(names, actual.objects, database);
    if (foreign.length > 0) {
        throw fail(
            "mismatch",
            "check tenant roles",
            `the restored ${scratch} grants to roles of other tenants (${foreign.join(", ")}): the dump is another tenant's; refusing it whatever the options.`,
            `restore one of this tenant's own backups (npm run backup -- list ${tenantId}) and report this one.`,
        );
    }
    const differences = compareWithManifest(manifest, { ...actual, database });
    // The deparsers render the same object alike on one major version; across majors only the names are compared.
    const sameMajor = Math.floor(manifest.serverVersionNum / 10000) === actual.major;
    const definitions = definitionDifferences(manifest.definitions, actual.definitions, !sameMajor);
    const warnings = [
        ...(sameMajor
            ? []
            : [`definitions not compared text for text: backed up on PostgreSQL ${manifest.serverVersion}, restored on ${actual.major}`]),
        ...(options.allowPrivilegeDrift ? differences.privileges : []),
    ];
    const problems = [...definitions, ...differences.data, ...(options.allowPrivilegeDrift ? [] : differences.privileges)];
    if (problems.length > 0) {
        throw fail(
            "verify-failed",
            "verify",
            `${scratch} differs from what backup ${key} recorded: ${summarize(problems)}.`,
            differences.data.length > 0 || definitions.length > 0
                ? "restore another backup and report this one."
                : "the live database carries owners or grants the component does not declare; declare them in the component, " +
                      "or pass --allow-privilege-drift to restore without them.",
        );
    }
    for (const warning of warnings) log(`${tenantId}: warning: ${warning}`);
    const restoreSeconds = (performance.now() - session.startedAt) / 1000;
    log(
        `${tenantId}: ${scratch} verified (${Object.keys(manifest.tables).length} tables, ` +
            `sha256 ${manifest.sha256.slice(0, 12)}…) in ${restoreSeconds.toFixed(1)} s`,
    );
    return { warnings, restoreSeconds };
}
