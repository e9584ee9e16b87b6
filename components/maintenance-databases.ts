import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { MAINTENANCE_DATABASES, MaintenanceDatabase } from "../src/naming";

/** Logical name of the grant that keeps PUBLIC out of one maintenance database of a server. */
export function maintenanceGrantName(serverComponent: string, database: MaintenanceDatabase): string {
    return `${serverComponent}-${database}-revoke-public`;
}

/**
 * Revokes everything PUBLIC holds on the server's maintenance databases (CONNECT and TEMPORARY,
 * PostgreSQL's defaults), so no tenant role reaches them; only their owner (the admin, on RDS the
 * master user) and superusers still connect. Why it matters:
 * - advisory locks are scoped to a database, and `postgres` is where the admin takes the lock of a
 *   restore or drill (`hashtext('tenantdb restore erp_<id>')`, src/backup/restore/server-session.ts)
 *   and where the provider takes `pg_advisory_xact_lock(<role or database oid>)` while it creates
 *   roles and databases: a tenant session there could hold any of them and stall another tenant's
 *   restore or the whole `pulumi up`. Closed off, nobody but the admin can take a lock keyed there;
 * - before PostgreSQL 15 PUBLIC may create objects in `public` of both databases: in `template1`
 *   they would be copied into every database created from it, in `postgres` they would sit on the
 *   admin's search path.
 *
 * Retained on delete: the provider's delete of a grant with no privileges runs the REVOKE again, so
 * neither way re-grants; retained, a removed declaration runs no SQL at all and the server keeps
 * its ACL. Opening a maintenance database again is a deliberate `GRANT CONNECT ... TO PUBLIC`.
 *
 * The admin must own the databases (or be a member of their owner, or a superuser): for anyone
 * else PostgreSQL revokes nothing and only warns, and the provider, which reads back explicit ACL
 * entries only, would report success.
 */
export function declareMaintenanceLockdown(
    serverComponent: string,
    opts: { readonly parent: pulumi.Resource; readonly provider: postgresql.Provider; readonly protect: boolean },
): postgresql.Grant[] {
    // Two pg_database rows: the grants cannot collide on one ACL, so they need no chain.
    return MAINTENANCE_DATABASES.map(
        (database) =>
            new postgresql.Grant(
                maintenanceGrantName(serverComponent, database),
                { database, role: "public", objectType: "database", privileges: [] },
                { ...opts, retainOnDelete: true },
            ),
    );
}
