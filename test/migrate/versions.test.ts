import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { DEFAULT_MIGRATIONS_DIR, loadCatalog } from "../../src/migrate/catalog";
import { fleetFailed, runFleet } from "../../src/migrate/fleet";
import type { TenantTarget } from "../../src/migrate/targets";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";
import { dropDeclaredTenant as dropTenantDatabase } from "../support/declared-tenants";

const ADD_COLUMN =
    "-- migrate:up\nALTER TABLE core.companies ADD COLUMN vat_number text;\n-- migrate:down\nALTER TABLE core.companies DROP COLUMN vat_number;\n";

async function columnsOf(database: string): Promise<string[]> {
    const client = new Client({ ...adminServer(), database });
    await client.connect();
    try {
        const { rows } = await client.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = 'companies' ORDER BY ordinal_position",
        );
        return rows.map((r) => r.column_name);
    } finally {
        await client.end();
    }
}

describe("fleet runner: versions, drift, down and canaries", function () {
    this.timeout(120_000);
    const ids = ["mig_ver_a", "mig_ver_b", "mig_can_1", "mig_can_2", "mig_can_3", "mig_can_4", "mig_can_5"];
    const seed = seedFor(ids);
    let t: Record<string, TenantTarget>;

    before(async () => {
        const fixtures = await createTenants(adminServer(), ids);
        t = Object.fromEntries(fixtures.map((f) => [f.tenantId, targetOf(adminServer(), f)]));
    });
    after(async () => {
        removeMigrationDirs();
        for (const id of ids) await dropTenantDatabase(adminServer(), id);
    });

    it("goes up --to a version, then on; down reverts the last, down --to stops at migrations without a down", async () => {
        const catalog = loadCatalog(migrationsWith({ "0005_vat_number.sql": ADD_COLUMN }));
        const partial = await runFleet([t.mig_ver_a], { mode: "up", to: "0001_baseline", seed, catalog });
        assert.deepEqual(partial.tenants[0].applied, ["0001_baseline"]);
        assert.deepEqual(partial.tenants[0].pending, [
            "0002_reference_data",
            "0003_first_company",
            "0004_credentials_withheld",
            "0005_vat_number",
        ]);
        assert.equal(partial.tenants[0].to, "0001_baseline");

        const dry = await runFleet([t.mig_ver_a], { mode: "up", dryRun: true, seed, catalog });
        assert.equal(dry.tenants[0].outcome, "pending");
        assert.equal(
            dry.tenants[0].message,
            "would apply 0002_reference_data, 0003_first_company, 0004_credentials_withheld, 0005_vat_number",
        );
        assert.equal(dry.tenants[0].to, "0005_vat_number");

        const rest = await runFleet([t.mig_ver_a], { mode: "up", seed, catalog });
        assert.deepEqual(rest.tenants[0].applied, [
            "0002_reference_data",
            "0003_first_company",
            "0004_credentials_withheld",
            "0005_vat_number",
        ]);
        assert.deepEqual((await columnsOf("erp_mig_ver_a")).includes("vat_number"), true);

        const down = await runFleet([t.mig_ver_a], { mode: "down", catalog });
        assert.equal(down.tenants[0].outcome, "ok");
        assert.deepEqual(down.tenants[0].reverted, ["0005_vat_number"]);
        assert.equal(down.tenants[0].from, "0005_vat_number");
        assert.equal(down.tenants[0].to, "0004_credentials_withheld");
        assert.deepEqual(await columnsOf("erp_mig_ver_a"), ["id", "code", "name", "base_currency", "created_at"]);

        const tooFar = await runFleet([t.mig_ver_a], { mode: "down", to: "0001_baseline", catalog });
        assert.equal(tooFar.tenants[0].outcome, "failed");
        assert.match(
            tooFar.tenants[0].error!,
            /0003_first_company has no down migration, so the tenant cannot go below it\. Fix: choose a --to at or above that migration/,
        );

        await assert.rejects(runFleet([t.mig_ver_a], { mode: "up", to: "0009_nope", catalog }), /--to 0009_nope names no migration/);
    });

    it("reverts everything with down --to 0 when every migration has a down", async () => {
        const first = await runFleet([t.mig_ver_b], { mode: "up", to: "0002_reference_data", seed });
        assert.equal(first.tenants[0].to, "0002_reference_data");
        const down = await runFleet([t.mig_ver_b], { mode: "down", to: "0" });
        assert.deepEqual(down.tenants[0].reverted, ["0002_reference_data", "0001_baseline"]);
        assert.equal(down.tenants[0].to, null);
        assert.deepEqual(await columnsOf("erp_mig_ver_b"), []);
    });

    it("refuses a tenant whose applied migration was edited, until repair accepts the local file", async () => {
        await runFleet([t.mig_ver_b], { mode: "up", seed });
        const original = readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, "0002_reference_data.sql"), "utf8");
        const edited = loadCatalog(
            migrationsWith({ "0002_reference_data.sql": original.replace("('JPY', 'Yen', 0)", "('JPY', 'Japanese Yen', 0)") }),
        );

        const refused = await runFleet([t.mig_ver_b], { mode: "up", seed, catalog: edited });
        assert.equal(refused.tenants[0].outcome, "failed");
        assert.match(
            refused.tenants[0].error!,
            /^tenant mig_ver_b \(server local\), step "plan": checksum drift: 0002_reference_data was edited after it was applied \(checksum [0-9a-f]{12} applied, [0-9a-f]{12} local\); refusing to migrate\. Fix: restore the applied migration files from version control, or, .* run `migrate repair`/,
        );
        assert.equal(fleetFailed(refused), true);

        const status = await runFleet([t.mig_ver_b], { mode: "status", catalog: edited });
        assert.equal(status.tenants[0].outcome, "drift");
        assert.deepEqual(
            status.tenants[0].drift.map((d) => [d.name, d.kind]),
            [["0002_reference_data", "changed"]],
        );
        assert.equal(fleetFailed(status), true);

        const repaired = await runFleet([t.mig_ver_b], { mode: "repair", catalog: edited });
        assert.equal(repaired.tenants[0].outcome, "ok");
        assert.equal(repaired.tenants[0].message, "repaired 0002_reference_data (changed)");
        const after = await runFleet([t.mig_ver_b], { mode: "status", catalog: edited });
        assert.equal(after.tenants[0].outcome, "up-to-date");
        assert.equal(after.tenants[0].via, "fingerprint");
        // The original file is now the one that differs from what the tenant recorded.
        const back = await runFleet([t.mig_ver_b], { mode: "status" });
        assert.equal(back.tenants[0].outcome, "drift");
        await runFleet([t.mig_ver_b], { mode: "repair" });
    });

    it("migrates canaries first and stops the waves once failures pass the threshold", async () => {
        const broken = { ...t.mig_can_3, password: "wrong-password-for-canary" };
        const fleet = [t.mig_can_1, t.mig_can_2, broken, t.mig_can_4, t.mig_can_5];
        const waves: string[][] = [];
        const report = await runFleet(fleet, {
            mode: "up",
            seed,
            canary: { tenants: ["mig_can_2"], waveSize: 2, maxFailures: 0 },
            onProgress: (event) => {
                if (event.kind === "wave") waves.push([...event.tenants]);
            },
        });
        assert.deepEqual(waves, [["mig_can_2"], ["mig_can_1", "mig_can_3"]]);
        assert.deepEqual(
            report.tenants.map((r) => [r.tenantId, r.outcome]),
            [
                ["mig_can_1", "ok"],
                ["mig_can_2", "ok"],
                ["mig_can_3", "failed"],
                ["mig_can_4", "skipped"],
                ["mig_can_5", "skipped"],
            ],
        );
        assert.equal(report.stopped, "1 tenant(s) failed by wave 1, more than the 0 allowed");
        assert.equal(report.tenants[3].message, "not started: 1 tenant(s) failed by wave 1, more than the 0 allowed");
        assert.equal(fleetFailed(report), true);

        const failingCanary = await runFleet([broken, t.mig_can_4], {
            mode: "up",
            seed,
            canary: { tenants: ["mig_can_3"], waveSize: 5, maxFailures: 0 },
        });
        assert.deepEqual(
            failingCanary.tenants.map((r) => r.outcome),
            ["failed", "skipped"],
        );
        assert.equal(failingCanary.stopped, "1 tenant(s) failed by wave 0 (canaries), more than the 0 allowed");
    });
});
