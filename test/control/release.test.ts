/**
 * Releasing a tenant from the state (src/control/release.ts) on a deployment shaped like a real
 * one: two tenants on one server, the second's database ordered after the first's. The real
 * engine imports the result in test/engine/server-move.test.ts.
 */
import * as assert from "node:assert/strict";
import { ReleaseError, releaseTenantResources, StateDeployment } from "../../src/control/release";

const STACK = "urn:pulumi:dev::tenantdb::pulumi:pulumi:Stack::tenantdb-dev";
const PROVIDER = "urn:pulumi:dev::tenantdb::tenantdb:index:ExternalServer$pulumi:providers:postgresql::server-local";
const component = (id: string) => `urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase::tenant-${id}`;
const child = (id: string, type: string, name: string) =>
    `urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$${type}::tenant-${id}-${name}`;
/** A tenant's resources; its bucket is listed before the bucket's component, so one pass is not enough. */
function tenant(id: string, after?: string) {
    const database = child(id, "postgresql:index/database:Database", "database");
    const owner = child(id, "postgresql:index/role:Role", "owner");
    const buckets = child(id, "tenantdb:index:TenantBackupBucket", "backups");
    return [
        { urn: component(id), type: "tenantdb:index:TenantDatabase", parent: STACK },
        { urn: owner, type: "postgresql:index/role:Role", parent: component(id), provider: `${PROVIDER}::id` },
        {
            urn: child(id, "random:index/randomPassword:RandomPassword", "app-password"),
            type: "random:index/randomPassword:RandomPassword",
            parent: component(id),
        },
        {
            urn: database,
            type: "postgresql:index/database:Database",
            parent: component(id),
            provider: `${PROVIDER}::id`,
            dependencies: after ? [owner, after] : [owner],
            propertyDependencies: { owner: [owner] },
        },
        {
            urn: `urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$tenantdb:index:TenantBackupBucket$aws:s3/bucket:Bucket::tenant-${id}-backups`,
            type: "aws:s3/bucket:Bucket",
            parent: buckets,
        },
        { urn: buckets, type: "tenantdb:index:TenantBackupBucket", parent: component(id) },
    ];
}

describe("releasing a tenant from the state", () => {
    const acme = tenant("acme");
    const globex = tenant("globex", child("acme", "postgresql:index/database:Database", "database"));
    const deployment: StateDeployment = {
        manifest: { version: "v3.248.0" },
        resources: [
            { urn: STACK, type: "pulumi:pulumi:Stack" },
            { urn: PROVIDER, type: "pulumi:providers:postgresql" },
            ...acme,
            ...globex,
        ],
    };

    /** A tenant's resources on its server: the ones a release takes out of the state. */
    const onServer = (resources: { urn: string; type: string }[]) =>
        resources.filter((r) => r.type.startsWith("postgresql:")).map((r) => r.urn);

    it("releases the tenant's server resources, and keeps its component, passwords and backup bucket", () => {
        const { deployment: after, released } = releaseTenantResources(deployment, "tenant-acme");
        assert.deepEqual(released, [
            child("acme", "postgresql:index/role:Role", "owner"),
            child("acme", "postgresql:index/database:Database", "database"),
        ]);
        assert.deepEqual(
            after.resources!.map((resource) => resource.urn),
            [
                STACK,
                PROVIDER,
                ...acme.map((resource) => resource.urn).filter((urn) => !released.includes(urn)),
                ...globex.map((resource) => resource.urn),
            ],
        );
        assert.deepEqual(after.manifest, { version: "v3.248.0" });
    });

    it("drops the other tenants' references to it, and keeps theirs to their own resources", () => {
        const { deployment: after } = releaseTenantResources(deployment, "tenant-acme");
        const database = after.resources!.find(
            (resource) => resource.urn === child("globex", "postgresql:index/database:Database", "database"),
        )!;
        assert.deepEqual(database.dependencies, [child("globex", "postgresql:index/role:Role", "owner")]);
        assert.deepEqual(database.propertyDependencies, { owner: [child("globex", "postgresql:index/role:Role", "owner")] });
        assert.equal(database.provider, `${PROVIDER}::id`);
        // The input is left as it was.
        assert.equal(deployment.resources!.length, 2 + acme.length + globex.length);
    });

    it("refuses a tenant that is not in the state, and a state with an interrupted update", () => {
        assert.throws(
            () => releaseTenantResources(deployment, "tenant-hooli"),
            new ReleaseError("tenant-hooli has no database in the stack's state: nothing to release"),
        );
        assert.throws(
            () => releaseTenantResources({ ...deployment, pending_operations: [{ type: "creating" }] }, "tenant-acme"),
            new ReleaseError(
                "the stack has pending operations from an interrupted update; run `pulumi refresh` (or `pulumi cancel`) until it has none, then release",
            ),
        );
    });

    it("does not take a tenant whose name only starts like another's", () => {
        const ac = tenant("ac");
        const { released } = releaseTenantResources({ resources: [...ac, ...acme] }, "tenant-ac");
        assert.deepEqual(released, onServer(ac));
    });
});
