/**
 * What the program declares for each lifecycle state (components/tenant-database.ts), under the
 * mock runtime. The real engine and server run the transitions in test/engine/control.test.ts.
 */
import * as assert from "node:assert/strict";
import { evaluateProgramOffline, OfflineEvaluation } from "../../src/program/offline";

const AT = "2026-11-01T00:00:00.000Z";
const transition = (state: string) => ({ state, at: AT, by: "portal:alice" });
const CONFIG = {
    "tenantdb:servers": { onprem: { kind: "external", host: "pg.internal", maxConnections: 400 } },
    "tenantdb:tenants": [
        { id: "live", server: "onprem" },
        { id: "paused", server: "onprem", state: "suspended", history: [transition("suspended")] },
        { id: "leaving", server: "onprem", state: "retired", history: [transition("suspended"), transition("retired")] },
        { id: "gone", server: "onprem", state: "erased", history: [transition("suspended"), transition("retired"), transition("erased")] },
    ],
    "tenantdb:serverPasswords": { onprem: "onprem-admin-secret-value" },
};

describe("the tenant lifecycle as the program declares it", () => {
    let evaluation: OfflineEvaluation;
    before(async () => (evaluation = await evaluateProgramOffline(CONFIG, { stack: "prod" })));

    const inputs = (name: string) => evaluation.resources.find((r) => r.name === name)!.inputs;
    const options = (type: string, name: string) => evaluation.options.get(`${type}::${name}`)!;
    const ofTenant = (id: string) =>
        [...evaluation.resources, ...evaluation.components].filter((r) => r.name === `tenant-${id}` || r.name.startsWith(`tenant-${id}-`));

    it("keeps a suspended tenant's data and protection, with logins off and no connections", () => {
        for (const role of ["app", "readonly", "migrator"]) {
            assert.equal(inputs(`tenant-paused-${role}`).login, false, role);
            assert.equal(inputs(`tenant-live-${role}`).login, true, role);
        }
        assert.equal(inputs("tenant-paused-database").connectionLimit, 0);
        assert.equal(inputs("tenant-live-database").connectionLimit, 50);
        const database = options("postgresql:index/database:Database", "tenant-paused-database");
        assert.deepEqual([database.protect, database.retainOnDelete], [true, true]);
        assert.equal(ofTenant("paused").length, ofTenant("live").length);
    });

    it("lifts a retired tenant's protection, so erasing it deletes its database, roles and key, and keeps its bucket", () => {
        const unprotected = ofTenant("leaving").filter((r) => r.type.startsWith("postgresql:") || r.type.startsWith("random:"));
        assert.equal(unprotected.length, 52);
        // Deleted on erasure: the database (DROP DATABASE takes everything inside it along), the roles, the passwords.
        const deleted = unprotected
            .filter((r) => options(r.type, r.name).retainOnDelete === false)
            .map((r) => r.name)
            .sort();
        assert.deepEqual(deleted, [
            "tenant-leaving-app",
            "tenant-leaving-app-password",
            "tenant-leaving-database",
            "tenant-leaving-migrator",
            "tenant-leaving-migrator-password",
            "tenant-leaving-owner",
            "tenant-leaving-readonly",
            "tenant-leaving-readonly-password",
        ]);
        assert.deepEqual(
            unprotected.filter((r) => options(r.type, r.name).protect).map((r) => r.name),
            [],
        );
        assert.equal(inputs("tenant-leaving-app").login, false);
        const bucket = options("aws:s3/bucket:Bucket", "tenant-leaving-backups");
        assert.deepEqual([bucket.protect, bucket.retainOnDelete], [false, true]);
        const key = options("aws:kms/key:Key", "tenant-leaving-backups-key");
        assert.deepEqual([key.protect, key.retainOnDelete], [false, false]);
        assert.equal(inputs("tenant-leaving-backups-key").deletionWindowInDays, 30);
    });

    it("declares nothing for an erased tenant and exports the others with their state", () => {
        assert.deepEqual(ofTenant("gone"), []);
        assert.deepEqual(
            Object.entries(evaluation.outputs.tenants).map(([id, t]) => [id, t.state]),
            [
                ["live", "active"],
                ["paused", "suspended"],
                ["leaving", "retired"],
            ],
        );
    });
});
