/**
 * The URNs of the dev stack, pinned. A URN is a resource's identity in the state: a changed one
 * (a renamed component or child, a new parent, another type) is a delete and a create, and every
 * tenant resource is protected, so `up` stops trying to create a database that exists. The real
 * engine computes the same URNs (test/engine/converge.test.ts).
 */
import * as assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { evaluateProgramOffline, OfflineEvaluation } from "../../src/program/offline";

const ROOT = path.resolve(__dirname, "../..");
const SNAPSHOT = path.join(__dirname, "dev-stack-urns.txt");
const UPDATE = "TENANTDB_UPDATE_URN_SNAPSHOT";

/** The dev stack's config, as `pulumi up` gets it once the admin password is set. */
function devStackConfig(): Record<string, unknown> {
    const config = parse(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")).config;
    return { ...config, "tenantdb:serverPasswords": { local: "local-admin-password" } };
}

/** Every URN the program declares, components included (the root stack, which the runtime declares, aside). */
function declaredUrns(evaluation: OfflineEvaluation): string[] {
    return [...evaluation.resources.map((resource) => resource.urn!), ...evaluation.components.map((component) => component.urn)].sort();
}

function readSnapshot(): string[] {
    return readFileSync(SNAPSHOT, "utf8")
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("#"));
}

function writeSnapshot(urns: string[]): void {
    const header = [
        "# URNs of the dev stack (Pulumi.dev.yaml), sorted: test/program/urns.test.ts compares the program with this list.",
        `# A changed URN is a delete and a create. Change it only with \`aliases\`, then run the test with ${UPDATE}=1.`,
    ];
    writeFileSync(SNAPSHOT, [...header, ...urns, ""].join("\n"));
}

describe("URNs of the dev stack", () => {
    it("are the ones in test/program/dev-stack-urns.txt", async () => {
        const urns = declaredUrns(await evaluateProgramOffline(devStackConfig(), { stack: "dev" }));
        if (process.env[UPDATE] === "1") writeSnapshot(urns);
        const pinned = readSnapshot();
        const added = urns.filter((urn) => !pinned.includes(urn));
        const removed = pinned.filter((urn) => !urns.includes(urn));
        assert.ok(
            added.length === 0 && removed.length === 0,
            "The program's URNs changed. A changed URN makes `up` try to create a protected database that exists (and delete the old one, " +
                "which protection stops). If the change is intended, add `aliases` to the renamed resources so the engine moves them, " +
                `then update the snapshot with ${UPDATE}=1.\n  removed:\n    ${removed.join("\n    ")}\n  added:\n    ${added.join("\n    ")}`,
        );
        assert.deepEqual(urns, pinned);
    });

    it("nest as the engine nests them: the whole chain of component types, and no root stack type", async () => {
        const urns = declaredUrns(await evaluateProgramOffline(devStackConfig(), { stack: "dev" }));
        // 3 tenants x 53, globex's citext extension, the local server's provider, its component and 2 maintenance grants.
        assert.equal(urns.length, 164);
        assert.ok(urns.includes("urn:pulumi:dev::tenantdb::pulumi:providers:postgresql::server-local-postgresql"));
        // The server's own declarations sit under its component; its provider stays at the root, where it always was.
        assert.deepEqual(
            urns.filter((urn) => urn.includes("::server-local")),
            [
                "urn:pulumi:dev::tenantdb::pulumi:providers:postgresql::server-local-postgresql",
                "urn:pulumi:dev::tenantdb::tenantdb:index:ExternalServer$postgresql:index/grant:Grant::server-local-postgres-revoke-public",
                "urn:pulumi:dev::tenantdb::tenantdb:index:ExternalServer$postgresql:index/grant:Grant::server-local-template1-revoke-public",
                "urn:pulumi:dev::tenantdb::tenantdb:index:ExternalServer::server-local",
            ],
        );
        assert.ok(
            urns.includes(
                "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$postgresql:index/database:Database::tenant-acme-database",
            ),
        );
        const bucket = await evaluateProgramOffline({ ...devStackConfig(), "tenantdb:backup": { buckets: true } }, { stack: "dev" });
        const key = bucket.resources.find((resource) => resource.name === "tenant-acme-backups-key")!;
        const tenantAcme = "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase::tenant-acme";
        assert.deepEqual(
            [key.urn, key.parent],
            [
                "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$tenantdb:index:TenantBackupBucket$aws:kms/key:Key::tenant-acme-backups-key",
                "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$tenantdb:index:TenantBackupBucket::tenant-acme-backups",
            ],
        );
        assert.deepEqual(
            bucket.components.filter((component) => component.name.startsWith("tenant-acme")),
            [
                {
                    type: "tenantdb:index:TenantDatabase",
                    name: "tenant-acme",
                    urn: tenantAcme,
                    parent: "urn:pulumi:dev::tenantdb::pulumi:pulumi:Stack::tenantdb-dev",
                },
                { type: "tenantdb:index:TenantBackupBucket", name: "tenant-acme-backups", urn: key.parent, parent: tenantAcme },
            ],
        );
    });

    it("stay each evaluation's own when two run at once (the mock runtime is process-global)", async () => {
        const lab = { kind: "external", host: "10.0.0.5", port: 5432, superuser: true, sslmode: "require", maxConnections: 100 };
        const other = {
            "tenantdb:servers": { lab },
            "tenantdb:tenants": [{ id: "solo", server: "lab", connectionLimit: 10 }],
            "tenantdb:backup": { buckets: false },
            "tenantdb:serverPasswords": { lab: "lab-admin-password" },
        };
        // Both start before either ends: without the queue, the second setMocks steals the first's resources.
        const [dev, qa] = await Promise.all([
            evaluateProgramOffline(devStackConfig(), { stack: "dev" }),
            evaluateProgramOffline(other, { stack: "qa" }),
        ]);
        assert.deepEqual(declaredUrns(dev), readSnapshot());
        assert.deepEqual(Object.keys(dev.outputs.tenants), ["acme", "globex", "initech"]);
        const qaUrns = declaredUrns(qa);
        assert.equal(qaUrns.length, 57); // one tenant's 53, the lab server's provider, component and 2 maintenance grants
        assert.deepEqual(
            qaUrns.filter((urn) => !urn.startsWith("urn:pulumi:qa::tenantdb::tenantdb:index:TenantDatabase")),
            [
                "urn:pulumi:qa::tenantdb::pulumi:providers:postgresql::server-lab-postgresql",
                "urn:pulumi:qa::tenantdb::tenantdb:index:ExternalServer$postgresql:index/grant:Grant::server-lab-postgres-revoke-public",
                "urn:pulumi:qa::tenantdb::tenantdb:index:ExternalServer$postgresql:index/grant:Grant::server-lab-template1-revoke-public",
                "urn:pulumi:qa::tenantdb::tenantdb:index:ExternalServer::server-lab",
            ],
        );
        const outsideSolo = qa.resources.filter((resource) => !resource.name.startsWith("tenant-solo-"));
        assert.deepEqual(
            outsideSolo.map((resource) => resource.name),
            ["server-lab-postgresql", "server-lab-postgres-revoke-public", "server-lab-template1-revoke-public"],
        );
        assert.deepEqual(Object.keys(qa.outputs.tenants), ["solo"]);
    });
});
