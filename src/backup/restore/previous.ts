/** The before-restore copies a restore keeps: listed, and dropped only when asked and only when they are one. */
import { MAINTENANCE_DATABASE, connect } from "../connection";
import { TenantBackupError } from "../errors";
import { TenantBackupTarget } from "../inventory";
import { isBeforeRestoreDatabase, tenantNames } from "../../naming";
import { dropDatabase } from "./scratch-database";

/** Before-restore copies of a tenant's database that are still on the server. */
export async function listPreviousDatabases(target: TenantBackupTarget): Promise<string[]> {
    const admin = await connect(target.server, MAINTENANCE_DATABASE);
    try {
        const { rows } = await admin.query<{ datname: string }>(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            [`${tenantNames(target.tenantId).database}_before_restore_`],
        );
        return rows.map((row) => row.datname).filter((name) => isBeforeRestoreDatabase(target.tenantId, name));
    } finally {
        await admin.end().catch(() => undefined);
    }
}

/** Drops a before-restore copy; refuses any name that is not `erp_<id>_before_restore_<14 digits>`. */
export async function dropPreviousDatabase(target: TenantBackupTarget, database: string): Promise<void> {
    const names = tenantNames(target.tenantId);
    const refuse = (problem: string, fix = `list the copies with: npm run backup -- drop-previous ${target.tenantId}`) =>
        new TenantBackupError("config", target.tenantId, target.server.name, "drop previous database", problem, fix);
    if (!isBeforeRestoreDatabase(target.tenantId, database)) {
        throw refuse(`${database} is not a before-restore copy of ${names.database}; refusing to drop it.`);
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
        if (rows.length === 0) throw refuse(`${database} does not exist.`);
        const [{ owner, datallowconn }] = rows;
        if (owner !== names.ownerRole || datallowconn) {
            throw refuse(
                `${database} is owned by ${owner} and ${datallowconn ? "accepts" : "refuses"} connections; ` +
                    `a before-restore copy of ${names.database} is owned by ${names.ownerRole} and refuses connections. ` +
                    "Refusing to drop it.",
                "drop it by hand if you are sure.",
            );
        }
        await dropDatabase(admin, database);
    } finally {
        await admin.end().catch(() => undefined);
    }
}
