/** The before-restore copies a restore keeps: listed, and dropped only when asked and only when they are one. */
import { MAINTENANCE_DATABASE, connect } from "../connection";
import { TenantBackupError } from "../errors";
import { TenantBackupTarget } from "../inventory";
import { isBeforeRestoreDatabase, tenantNames } from "../../naming";
import { dropDatabase } from "./scratch-database";

/** What a restore records on the copy it keeps (as the copy's comment). */
export interface BeforeRestoreRecord {
    readonly tenantdb: "before-restore/1";
    /** The backup restored in its place. */
    readonly replacedBy: string;
    readonly at: string;
    /** Rows per table only this copy holds: writes made after that backup. */
    readonly movedAside: Readonly<Record<string, number>>;
}

export interface PreviousDatabase {
    readonly database: string;
    /** Undefined when the copy carries no record (written by hand, or its comment was changed). */
    readonly record?: BeforeRestoreRecord;
}

/** Before-restore copies of a tenant's database that are still on the server, with what each restore recorded. */
export async function listPreviousDatabases(target: TenantBackupTarget): Promise<PreviousDatabase[]> {
    const admin = await connect(target.server, MAINTENANCE_DATABASE);
    try {
        const { rows } = await admin.query<{ datname: string; comment: string | null }>(
            `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`,
            [`${tenantNames(target.tenantId).database}_before_restore_`],
        );
        return rows
            .filter((row) => isBeforeRestoreDatabase(target.tenantId, row.datname))
            .map((row) => ({ database: row.datname, record: parseRecord(row.comment) }));
    } finally {
        await admin.end().catch(() => undefined);
    }
}

function parseRecord(comment: string | null): BeforeRestoreRecord | undefined {
    try {
        const record = JSON.parse(comment ?? "") as Partial<BeforeRestoreRecord> | null;
        const valid =
            record?.tenantdb === "before-restore/1" &&
            typeof record.replacedBy === "string" &&
            typeof record.at === "string" &&
            typeof record.movedAside === "object" &&
            record.movedAside !== null &&
            Object.values(record.movedAside).every((n) => Number.isSafeInteger(n) && n > 0);
        return valid ? (record as BeforeRestoreRecord) : undefined;
    } catch {
        return undefined;
    }
}

/** What dropping the copy loses, for the confirmation: a sentence an operator can act on. */
export function dropWarning(copy: PreviousDatabase, liveDatabase: string): string {
    if (!copy.record) {
        return `${copy.database} carries no record of what it holds: it may hold writes ${liveDatabase} does not have.`;
    }
    const entries = Object.entries(copy.record.movedAside);
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    return total === 0
        ? `${copy.database} held no row that the restore of ${copy.record.replacedBy} (${copy.record.at}) lacked.`
        : `${copy.database} holds ${total} row(s) that ${liveDatabase} did not get back when ${copy.record.replacedBy} was restored ` +
              `(${copy.record.at}): ${entries.map(([table, n]) => `${table} ${n}`).join(", ")}. Dropping it deletes them for good.`;
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
