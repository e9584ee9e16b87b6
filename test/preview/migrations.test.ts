/**
 * The migrations part of a change preview, on real tenant databases: what the runner would apply
 * per tenant after the change, and what it would refuse (a file with COMMIT, an applied file that
 * changed), for a deployed tenant, a new one, a suspended one and one whose server is unreachable.
 */
import * as assert from "node:assert/strict";
import { runFleet } from "../../src/migrate/fleet";
import { previewMigrations } from "../../src/preview/migrations";
import { dropDeclaredTenant } from "../support/declared-tenants";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import type { TenantTarget } from "../../src/migrate/targets";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { DEFAULT_MIGRATIONS_DIR } from "../../src/migrate/catalog";

const BASE = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];
const GOOD = "-- migrate:up\nALTER TABLE finance.journal_lines ADD COLUMN note text;\n";
const COMMITS = "-- migrate:up\nUPDATE finance.journal_lines SET note = '';\nCOMMIT;\n";
const COMMIT_REFUSAL =
    '0006_backfill.sql: line 3: must not contain "COMMIT": the runner wraps each migration in a transaction with its bookkeeping row. ' +
    "Fix: remove the statement; the migration commits or rolls back as a whole";

describe("change preview: migrations per tenant", function () {
    this.timeout(120_000);
    let deployed: TenantTarget;

    before(async () => {
        await dropDeclaredTenant(adminServer(), "pm_live");
        const [fixture] = await createTenants(adminServer(), ["pm_live"]);
        deployed = targetOf(adminServer(), fixture);
        const report = await runFleet([deployed], { mode: "up", seed: seedFor(["pm_live"]) });
        assert.equal(report.counts.ok, 1);
    });

    after(async () => {
        removeMigrationDirs();
        await dropDeclaredTenant(adminServer(), "pm_live");
    });

    it("a deployed tenant gets the new files, a new tenant all of them, a suspended one none; a file with COMMIT is refused for both", async () => {
        const directory = migrationsWith({ "0005_invoice_notes.sql": GOOD, "0006_backfill.sql": COMMITS });
        const changes = await previewMigrations({
            directory,
            tenants: [
                { id: "pm_live", state: "active" },
                { id: "pm_new", state: "active" },
                { id: "pm_away", state: "suspended" },
            ],
            deployed: [deployed],
        });
        const refused = [{ migration: "0006_backfill", reason: COMMIT_REFUSAL }];
        assert.deepEqual(Object.fromEntries(changes), {
            pm_live: { status: "pending", version: "0004_credentials_withheld", pending: ["0005_invoice_notes", "0006_backfill"], refused },
            pm_new: { status: "new", version: null, pending: [...BASE, "0005_invoice_notes", "0006_backfill"], refused },
            pm_away: { status: "not-migrated", pending: [], refused: [], reason: "suspended: the runner migrates active tenants only" },
        });
    });

    it("an applied file that changed is checksum drift: refused for the deployed tenant, with the fix", async () => {
        const edited = readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, "0002_reference_data.sql"), "utf8") + "\n-- reworded\n";
        const directory = migrationsWith({ "0002_reference_data.sql": edited });
        const changes = await previewMigrations({ directory, tenants: [{ id: "pm_live", state: "active" }], deployed: [deployed] });
        assert.deepEqual(changes.get("pm_live"), {
            status: "up-to-date",
            version: "0004_credentials_withheld",
            pending: [],
            refused: [
                {
                    migration: "0002_reference_data",
                    reason:
                        "checksum drift: the file changed after it was applied, so the runner refuses this tenant. " +
                        "Fix: restore the file as applied and put the change in a new migration",
                },
            ],
        });
    });

    it("a tenant whose server cannot be reached is unknown, not up to date", async () => {
        const closed = { ...deployed, port: 1 };
        const changes = await previewMigrations({
            directory: DEFAULT_MIGRATIONS_DIR,
            tenants: [{ id: "pm_live", state: "active" }],
            deployed: [closed],
            connectionTimeoutMs: 2000,
        });
        const change = changes.get("pm_live")!;
        assert.deepEqual([change.status, change.pending, change.refused], ["unknown", [], []]);
        assert.match(change.reason!, /^tenant pm_live/);
    });
});
