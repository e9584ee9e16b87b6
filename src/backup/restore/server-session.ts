/** Phase 2: the server. Connect, match pg_restore to the server, take the tenant's lock, make sure the new names are free. */
import { readServerVersion } from "../catalog";
import { MAINTENANCE_DATABASE, connect } from "../connection";
import { describe } from "../errors";
import { PgTools, locatePgTools, toolsProblem } from "../pg-tools";
import { ChosenBackup, ServerSession } from "./context";
import { restoreLockKey } from "../../naming";

export async function openServerSession(backup: ChosenBackup): Promise<ServerSession> {
    const { server, names, scratch, databases, fail, created } = backup;
    try {
        created.admin = await connect(server, MAINTENANCE_DATABASE);
    } catch (error) {
        throw fail(
            "database",
            "connect",
            `cannot connect to ${server.host}:${server.port}/${MAINTENANCE_DATABASE} as ${server.user} (${describe(error)})`,
            "check that the server is reachable and the admin credentials are right.",
            error,
        );
    }
    const admin = created.admin;
    const tools = await pgRestoreFor(backup, (await readServerVersion(admin)).major);

    // Session-level, so it is released when the admin connection ends, however the run ends.
    const locked = await admin.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [restoreLockKey(names.database)]);
    if (!locked.rows[0].ok) {
        throw fail("busy", "lock tenant", `another restore or drill of ${names.database} is running.`, "wait for it to finish.");
    }
    const existing = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname = ANY($1::text[])", [
        [names.database, scratch, databases.beforeRestore],
    ]);
    const exists = new Set(existing.rows.map((row) => row.datname));
    for (const name of [scratch, databases.beforeRestore]) {
        if (exists.has(name)) {
            throw fail(
                "busy",
                "check names",
                `database ${name} already exists.`,
                "wait a second and retry (names carry the time to the second).",
            );
        }
    }
    return { ...backup, admin, tools, liveExists: exists.has(names.database) };
}

/** The tools, which must read archives of both this server and the one the backup was taken on. */
async function pgRestoreFor({ options, manifest, fail }: ChosenBackup, serverMajor: number): Promise<PgTools> {
    const located = () =>
        locatePgTools().catch((error: unknown) => {
            throw fail("tools", "locate pg_restore", describe(error), undefined, error);
        });
    const tools = options.tools ?? (await located());
    const problem = toolsProblem(tools, Math.max(serverMajor, Math.floor(manifest.serverVersionNum / 10000)));
    if (problem) throw fail("tools", "check pg_restore version", problem);
    return tools;
}
