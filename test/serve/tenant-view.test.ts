/**
 * GET /v1/tenants/{id} without the engine: what the stack file says, the newest complete backup
 * from the backup inventory (a file destination here) with its age, the cost model's monthly
 * cost, and each part that cannot be read as null with its reason.
 */
import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RunningService } from "../../src/serve/service";
import { call, dropControlDatabase, freshControlDatabase, projectWithDevStack, serve, tokenFor } from "./support";

const DATABASE = "serve_tenant_view";

describe("tenantdb serve: a tenant's view", function () {
    this.timeout(60_000);
    let project: ReturnType<typeof projectWithDevStack>;
    let backups: string;
    let service: RunningService;
    let token: string;

    before(async () => {
        const url = await freshControlDatabase(DATABASE);
        project = projectWithDevStack();
        backups = mkdtempSync(path.join(os.tmpdir(), "tenantdb-serve-backups-"));
        const folder = path.join(backups, "backups", "acme");
        mkdirSync(folder, { recursive: true });
        // An older complete backup, the newest complete one, and a newer one without its manifest (unfinished).
        for (const [stamp, complete] of [
            ["20260101T010203.004Z", true],
            ["20260102T010203.004Z", true],
            ["20260103T010203.004Z", false],
        ] as const) {
            writeFileSync(path.join(folder, `${stamp}.dump`), "dump");
            if (complete) writeFileSync(path.join(folder, `${stamp}.dump.json`), "{}");
        }
        const inventory = path.join(backups, "inventory.yaml");
        writeFileSync(
            inventory,
            [
                "servers:",
                "  local: { host: 127.0.0.1, port: 54329, user: postgres, passwordEnv: TENANTDB_SERVE_TEST_PASSWORD, sslmode: disable }",
                "tenants:",
                `  - { id: acme, server: local, destination: "file://${backups}" }`,
                "",
            ].join("\n"),
        );
        process.env.TENANTDB_SERVE_TEST_PASSWORD = "unused";
        service = await serve(url, project.dir, { backupConfig: inventory });
        token = await tokenFor(url, "portal", ["read"]);
    });

    after(async () => {
        await service?.close();
        project?.remove();
        rmSync(backups, { recursive: true, force: true });
        await dropControlDatabase(DATABASE);
    });

    it("reads the stack file, the newest complete backup with its age, and the monthly cost", async () => {
        const answer = await call(service.url, "GET", "/v1/tenants/acme", { token });
        assert.equal(answer.status, 200);
        const { schemaVersion, newestBackup, ...view } = answer.body as Record<string, unknown>;
        assert.deepEqual(view, {
            id: "acme",
            plan: "standard",
            state: "active",
            since: null,
            server: "local",
            serverKind: "external",
            stack: "dev",
            cell: null,
            connectionLimit: 20,
            backupRetentionDays: 30,
            // The dev stack's one server is external with no monthly price, and it has no buckets.
            monthlyCost: { value: { monthlyUsd: 0, worstCaseMonthlyUsd: 0, serverPriced: false }, reason: null },
        });
        const backup = newestBackup as { value: { key: string; startedAt: string; ageHours: number }; reason: null };
        assert.deepEqual(
            [backup.value.key, backup.value.startedAt, backup.reason],
            ["backups/acme/20260102T010203.004Z.dump", "2026-01-02T01:02:03.004Z", null],
        );
        const expectedAge = (Date.now() - Date.parse("2026-01-02T01:02:03.004Z")) / 3_600_000;
        assert.ok(Math.abs(backup.value.ageHours - expectedAge) < 0.1, `${backup.value.ageHours} vs ${expectedAge}`);
        // Never deployed: without outputs there is no database to read its version from.
        assert.equal((schemaVersion as { value: unknown }).value, null);
        assert.equal(typeof (schemaVersion as { reason: unknown }).reason, "string");
    });

    it("says why a tenant's backups are not listed when the inventory does not have it", async () => {
        const answer = await call(service.url, "GET", "/v1/tenants/globex", { token });
        const { newestBackup } = answer.body as { newestBackup: unknown };
        assert.deepEqual(newestBackup, { value: null, reason: "Unknown tenant(s) globex: not in the backup inventory." });
    });
});
