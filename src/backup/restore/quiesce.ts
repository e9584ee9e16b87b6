/**
 * Phase 2b, restores only: the tenant is quiesced before anything is restored. Its login roles
 * (app, readonly, migrator) are set NOLOGIN and their sessions on the live database end, so
 * no write is acknowledged between now and the switch: such a write would end up only in the
 * before-restore copy. What was written between the backup and this point is counted by
 * moved-aside.ts and reported.
 *
 * Each blocked role carries a comment saying so (the Pulumi role resource manages no comment),
 * so a restore killed before it reopened the logins leaves a trace `backup doctor` finds.
 */
import { Client } from "pg";
import { describe } from "../errors";
import { quoteIdentifier as ident, quoteLiteral } from "../../shared/sql";
import { ServerSession } from "./context";

/** Start of the comment on a role whose logins a restore blocked. */
export const QUIESCED_BY_RESTORE = "tenantdb: logins blocked by a restore of ";

export async function quiesceTenant(session: ServerSession): Promise<void> {
    const { admin, names, liveExists, mode, created, log, fail, tenantId } = session;
    if (mode !== "restore" || !liveExists) return;
    const loginRoles = [names.appRole, names.readonlyRole, names.migratorRole];
    const { rows } = await admin.query<{ rolname: string }>(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[]) AND rolcanlogin ORDER BY 1",
        [loginRoles],
    );
    const blocked: string[] = [];
    created.quiesced = blocked;
    try {
        for (const { rolname } of rows) {
            await admin.query("BEGIN");
            await admin.query(`ALTER ROLE ${ident(rolname)} NOLOGIN`);
            await admin.query(
                `COMMENT ON ROLE ${ident(rolname)} IS ${quoteLiteral(`${QUIESCED_BY_RESTORE}${names.database} since ${new Date().toISOString()}`)}`,
            );
            await admin.query("COMMIT");
            blocked.push(rolname);
        }
        const { rows: ended } = await admin.query<{ n: number }>(
            `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n
               FROM pg_stat_activity WHERE datname = $1 AND usename = ANY($2::text[])`,
            [names.database, loginRoles],
        );
        log(
            `${tenantId}: quiesced: ${blocked.length > 0 ? `logins of ${blocked.join(", ")} blocked` : "no login role could log in"}, ` +
                `${ended[0].n} session(s) ended; the tenant is offline until the restore ends`,
        );
    } catch (error) {
        await admin.query("ROLLBACK").catch(() => undefined);
        throw fail(
            "database",
            "quiesce tenant",
            `cannot block the logins of ${names.database}'s roles (${describe(error)}).`,
            `${session.server.user} must be a superuser or have CREATEROLE; the roles were reopened.`,
            error,
        );
    }
}

/** Lets one role a quiesce blocked log in again, and removes the quiesce's mark. */
export async function reopenLogin(admin: Client, role: string): Promise<void> {
    await admin.query(`ALTER ROLE ${ident(role)} LOGIN`);
    await admin.query(`COMMENT ON ROLE ${ident(role)} IS NULL`);
}

/**
 * Lets the roles a quiesce blocked log in again, however the run ended. Returns the sentence
 * for the failure message when it could not, else "".
 */
export async function reopenLogins(admin: Client | undefined, roles: readonly string[] | undefined): Promise<string> {
    if (!admin || !roles || roles.length === 0) return "";
    const stuck: string[] = [];
    for (const role of roles) await reopenLogin(admin, role).catch(() => stuck.push(role));
    return stuck.length > 0 ? ` The logins of ${stuck.join(", ")} are still blocked: run npm run backup -- doctor --fix.` : "";
}
