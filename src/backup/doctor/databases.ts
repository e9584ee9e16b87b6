/**
 * What restores and drills leave on a server. A killed run leaves its scratch database
 * (`erp_<id>_restore_<ts>`, `erp_<id>_drill_<ts>`) and, if it was a restore that had quiesced the
 * tenant, login roles still blocked (NOLOGIN, marked by a role comment: restore/quiesce.ts).
 * Both are undone only while doctor holds the tenant's restore lock, the one a running restore
 * or drill holds for its whole run, so a running one is never touched. Before-restore copies are
 * kept on purpose: listed with the command that drops them.
 */
import { Client } from "pg";
import { MAINTENANCE_DATABASE, connect } from "../connection";
import { TenantBackupError, describe } from "../errors";
import { BackupServer, TenantBackupTarget } from "../inventory";
import { QUIESCED_BY_RESTORE, reopenLogin } from "../restore/quiesce";
import { dropDatabase } from "../restore/scratch-database";
import { RESTORE_STAMP_LENGTH, isBeforeRestoreDatabase, restoreDatabaseNames, restoreLockKey, tenantNames } from "../../naming";
import { DoctorFinding, removal } from "./findings";

interface DatabaseRow {
    readonly datname: string;
    readonly owner: string;
}

type Log = (line: string) => void;

/** Findings for the tenants of one server; a server that cannot be reached is one problem per tenant. */
export async function inspectServer(
    server: BackupServer,
    targets: readonly TenantBackupTarget[],
    fix: boolean,
    log: Log,
): Promise<{ findings: DoctorFinding[]; problems: TenantBackupError[] }> {
    let admin: Client;
    try {
        admin = await connect(server, MAINTENANCE_DATABASE);
    } catch (error) {
        const problem = `cannot connect to ${server.host}:${server.port}/${MAINTENANCE_DATABASE} as ${server.user} (${describe(error)})`;
        const fixIt = "check that the server is reachable and the admin credentials are right.";
        const problems = targets.map(
            ({ tenantId }) => new TenantBackupError("database", tenantId, server.name, "connect", problem, fixIt, { cause: error }),
        );
        return { findings: [], problems };
    }
    try {
        const { rows } = await admin.query<DatabaseRow>(
            "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database ORDER BY datname",
        );
        // Another tenant's live database can look like a scratch database or copy (tenants `a` and `a_drill_<14 digits>`).
        const live = new Set(targets.map(({ tenantId }) => tenantNames(tenantId).database));
        const candidates = rows.filter((row) => !live.has(row.datname));
        const findings: DoctorFinding[] = [];
        for (const target of targets) findings.push(...(await inspectTenant(admin, target, candidates, fix, log)));
        return { findings, problems: [] };
    } finally {
        await admin.end().catch(() => undefined);
    }
}

async function inspectTenant(
    admin: Client,
    target: TenantBackupTarget,
    databases: readonly DatabaseRow[],
    fix: boolean,
    log: Log,
): Promise<DoctorFinding[]> {
    const { tenantId, server } = target;
    const names = tenantNames(tenantId);
    // A restore creates its scratch database as the admin and hands it to the owner role before verifying it.
    const scratch = databases.filter((row) => scratchKind(tenantId, row.datname) && [server.user, names.ownerRole].includes(row.owner));
    const blocked = await blockedLogins(admin, target);
    const kept = keptCopies(target, databases);
    if (scratch.length === 0 && blocked.length === 0) return kept;

    const leftovers: { finding: DoctorFinding; undo: () => Promise<unknown> }[] = [
        ...scratch.map(({ datname }) => ({
            finding: finding(target, "scratch-database", datname, `left by a ${scratchKind(tenantId, datname)} that did not finish`),
            undo: () => dropDatabase(admin, datname),
        })),
        ...blocked.map(({ rolname, comment }) => ({
            finding: finding(target, "blocked-login", rolname, `NOLOGIN, set by a restore that did not finish (role comment: ${comment})`),
            undo: () => reopenLogin(admin, rolname),
        })),
    ];
    // The lock of restore/server-session.ts: session-level, taken before a run creates anything, held until it ends.
    const lock = restoreLockKey(names.database);
    const { rows: locked } = await admin.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtext($1)) AS ok", [lock]);
    if (!locked[0].ok) {
        log(`${tenantId}: a restore or drill of ${names.database} is running (it holds the tenant's restore lock); skipped`);
        const running = `a restore or drill of ${names.database} is running (it holds the tenant's restore lock): skipped`;
        return [...leftovers.map(({ finding: f }) => ({ ...f, state: "in-use" as const, detail: running })), ...kept];
    }
    try {
        const findings: DoctorFinding[] = [];
        for (const { finding: orphan, undo } of leftovers) {
            if (!fix) {
                findings.push(orphan);
                continue;
            }
            const undone = await removal(orphan, undo);
            if (undone.state === "removed")
                log(`${tenantId}: ${orphan.kind === "blocked-login" ? "reopened the logins of" : "dropped"} ${orphan.name}`);
            findings.push(undone);
        }
        return [...findings, ...kept];
    } finally {
        await admin.query("SELECT pg_advisory_unlock(hashtext($1))", [lock]);
    }
}

function finding(
    { tenantId, server }: TenantBackupTarget,
    kind: "scratch-database" | "blocked-login",
    name: string,
    why: string,
): DoctorFinding {
    const detail = `${why}; no restore or drill of ${tenantNames(tenantId).database} is running`;
    return { kind, tenantId, server: server.name, name, state: "orphan", detail };
}

/** `restore` or `drill` when `database` is a scratch database name of this tenant. */
function scratchKind(tenantId: string, database: string): "restore" | "drill" | undefined {
    const names = restoreDatabaseNames(tenantId, "");
    for (const kind of ["restore", "drill"] as const) {
        const stamp = database.startsWith(names[kind]) ? database.slice(names[kind].length) : undefined;
        if (stamp !== undefined && stamp.length === RESTORE_STAMP_LENGTH && /^\d+$/.test(stamp)) return kind;
    }
    return undefined;
}

/** The tenant's login roles a restore blocked and did not reopen: NOLOGIN with the quiesce's comment naming this tenant. */
async function blockedLogins(admin: Client, { tenantId }: TenantBackupTarget): Promise<{ rolname: string; comment: string }[]> {
    const names = tenantNames(tenantId);
    const { rows } = await admin.query<{ rolname: string; comment: string }>(
        `SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles
          WHERE rolname = ANY($1::text[]) AND NOT rolcanlogin AND starts_with(shobj_description(oid, 'pg_authid'), $2) ORDER BY 1`,
        [[names.appRole, names.readonlyRole, names.migratorRole], `${QUIESCED_BY_RESTORE}${names.database} `],
    );
    return rows;
}

/** Before-restore copies are kept on purpose until someone drops them: listed, with the command, never dropped here. */
function keptCopies({ tenantId, server }: TenantBackupTarget, rows: readonly DatabaseRow[]): DoctorFinding[] {
    const { ownerRole } = tenantNames(tenantId);
    return rows
        .filter((row) => isBeforeRestoreDatabase(tenantId, row.datname) && row.owner === ownerRole)
        .map((row) => ({
            kind: "before-restore-copy",
            tenantId,
            server: server.name,
            name: row.datname,
            state: "kept",
            detail: `the live database before a restore, kept until dropped with: npm run backup -- drop-previous ${tenantId} ${row.datname}`,
        }));
}
