import * as assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { backupTenant } from "../../src/backup/backup";
import { restoreTenant } from "../../src/backup/restore";
import { runFleet } from "../../src/migrate/fleet";
import { dropDeclaredTenant } from "../support/declared-tenants";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { backupServer, dropExtraDatabases, testSigningKey } from "./helpers";

const TENANT = "bak_migrated";

/** ACLs of the audit functions, which the baseline migration closes to PUBLIC. */
async function auditFunctionAcls(database: string): Promise<string[]> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        const { rows } = await client.query(
            "SELECT p.proname || ':' || coalesce(array_to_string(p.proacl, ','), 'default') AS acl FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'audit' ORDER BY p.proname",
        );
        return rows.map((row) => row.acl);
    } finally {
        await client.end();
    }
}

/** Who may read what of core.users: the table's ACL and each column's, for the readonly role. */
async function readonlyUsersAccess(database: string): Promise<{ table: boolean; columns: string[] }> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        const role = `erp_${TENANT}_readonly`;
        const table = await client.query("SELECT has_table_privilege($1, 'core.users', 'SELECT') AS ok", [role]);
        const { rows } = await client.query(
            `SELECT attname FROM pg_attribute WHERE attrelid = 'core.users'::regclass AND attnum > 0 AND NOT attisdropped
                AND has_column_privilege($1, 'core.users', attname, 'SELECT') ORDER BY attnum`,
            [role],
        );
        return { table: table.rows[0].ok, columns: rows.map((row) => row.attname) };
    } finally {
        await client.end();
    }
}

const READONLY_USER_COLUMNS = ["id", "company_id", "email", "display_name", "role", "is_active", "created_at"];

describe("backup and restore of a tenant built by the real migrations", function () {
    this.timeout(120_000);
    let folder: string;

    before(async () => {
        folder = mkdtempSync(path.join(os.tmpdir(), "tenantdb-backups-"));
        chmodSync(folder, 0o700);
        const [fixture] = await createTenants(adminServer(), [TENANT]);
        const report = await runFleet([targetOf(adminServer(), fixture)], { mode: "up", seed: seedFor([TENANT]) });
        assert.equal(report.counts.ok, 1, JSON.stringify(report.tenants));
    });

    after(async () => {
        await dropExtraDatabases(TENANT);
        await dropDeclaredTenant(adminServer(), TENANT);
        rmSync(folder, { recursive: true, force: true });
    });

    for (const jobs of [1, 2]) {
        it(`restores and verifies it, keeping the functions closed to PUBLIC (jobs ${jobs})`, async () => {
            const target = { tenantId: TENANT, server: backupServer(), destination: `file://${folder}` };
            const before = await auditFunctionAcls(`erp_${TENANT}`);
            assert.deepEqual(before, [
                `record_change:erp_${TENANT}_owner=X/erp_${TENANT}_owner`,
                `track:erp_${TENANT}_owner=X/erp_${TENANT}_owner`,
            ]);
            assert.deepEqual(await readonlyUsersAccess(`erp_${TENANT}`), { table: false, columns: READONLY_USER_COLUMNS });
            await backupTenant(target, { signingKey: testSigningKey });
            const result = await restoreTenant(target, {
                signingKey: testSigningKey,
                jobs,
                now: () => new Date(Date.UTC(2031, 0, jobs, 0, 0, 0)),
            });
            assert.equal(result.database, `erp_${TENANT}`);
            assert.equal(result.manifest.schemaVersion, "0004_credentials_withheld");
            assert.deepEqual(await auditFunctionAcls(`erp_${TENANT}`), before);
            // The restore re-grants SELECT on every business table to readonly; the password hashes stay withheld.
            assert.deepEqual(await readonlyUsersAccess(`erp_${TENANT}`), { table: false, columns: READONLY_USER_COLUMNS });
        });
    }
});
