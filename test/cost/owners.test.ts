/** Owners from the component tree: who pays for each resource, and what pricing matches by component. */
import * as assert from "node:assert/strict";
import { estimateCost } from "../../src/cost/allocate";
import { resolveAssumptions } from "../../src/cost/assumptions";
import { CostError } from "../../src/cost/errors";
import { parseGraph } from "../../src/cost/graph-file";
import { ownersOf, serverNameFromComponentName } from "../../src/cost/owners";
import { defaultPricesPath, loadPriceBook } from "../../src/cost/prices";
import { priceGraph } from "../../src/cost/pricing";
import { plannedChild } from "../../src/cost/synthetic";
import { Owner, PlannedResource } from "../../src/cost/types";
import { rdsServer, ROOT, tenant } from "./fixtures";

const prices = loadPriceBook(defaultPricesPath());

const label = (owner: Owner) => {
    if (owner.kind === "fleet") return "fleet";
    return owner.kind === "server" ? `server ${owner.server}` : `tenant ${owner.tenant}`;
};
/** `<name>: <owner>` per resource, in graph order (names repeat: a component and its main child share one). */
const ownersByName = (graph: PlannedResource[]) => {
    const ownerOf = ownersOf(graph);
    return graph.map((resource) => `${resource.name}: ${label(ownerOf(resource))}`);
};
/** Owner by name, for graphs whose names are unique. */
const ownerOfEach = (graph: PlannedResource[]) => {
    const ownerOf = ownersOf(graph);
    return Object.fromEntries(graph.map((resource) => [resource.name, label(ownerOf(resource))]));
};

describe("cost owners from the component tree", () => {
    it("gives every resource to the TenantDatabase or RdsServer it sits in, however deep, and the rest to the fleet", () => {
        const external = plannedChild(ROOT, "pulumi:providers:postgresql", "server-onprem-postgresql");
        const server = rdsServer("shared-1", { instanceClass: "db.t4g.medium", allocatedStorage: 20 });
        const graph = [...server, ...tenant("acme", "shared-1"), external];
        assert.deepEqual(ownersByName(graph), [
            "server-shared-1: server shared-1",
            "server-shared-1-parameters: server shared-1",
            "server-shared-1: server shared-1",
            "server-shared-1-postgresql: server shared-1",
            "server-shared-1-cpu-high: server shared-1",
            "server-shared-1-storage-low: server shared-1",
            "server-shared-1-connections-high: server shared-1",
            "server-shared-1-dashboard: server shared-1",
            "tenant-acme: tenant acme",
            "tenant-acme-owner: tenant acme",
            "tenant-acme-app-password: tenant acme",
            "tenant-acme-database: tenant acme",
            "tenant-acme-backups: tenant acme",
            "tenant-acme-backups-key: tenant acme",
            "tenant-acme-backups-key-alias: tenant acme",
            "tenant-acme-backups: tenant acme",
            "tenant-acme-backups-versioning: tenant acme",
            "tenant-acme-backups-encryption: tenant acme",
            "tenant-acme-backups-public-access-block: tenant acme",
            "tenant-acme-backups-lifecycle: tenant acme",
            "tenant-acme-backups-tls-only: tenant acme",
            "tenant-acme-backups-job-policy: tenant acme",
            // An external server's provider sits at the root: it costs nothing, so no owner is needed.
            "server-onprem-postgresql: fleet",
        ]);
    });

    it("follows the tree, not tags or names", () => {
        const acme = plannedChild(ROOT, "tenantdb:index:TenantDatabase", "tenant-acme");
        const server = plannedChild(ROOT, "tenantdb:index:RdsServer", "server-shared-1");
        const graph = [
            acme,
            server,
            plannedChild(acme, "aws:kms/key:Key", "tenant-globex-key", { tags: { tenant: "globex", server: "other" } }),
            plannedChild(server, "aws:cloudwatch/metricAlarm:MetricAlarm", "server-other-cpu", {
                tags: { server: "other", tenant: "globex" },
            }),
            plannedChild(ROOT, "aws:kms/key:Key", "tenant-acme-loose-key", { tags: { tenant: "acme" } }),
        ];
        assert.deepEqual(ownerOfEach(graph), {
            "tenant-acme": "tenant acme",
            "server-shared-1": "server shared-1",
            "tenant-globex-key": "tenant acme",
            "server-other-cpu": "server shared-1",
            "tenant-acme-loose-key": "fleet",
        });
    });

    it("reads a component missing from the graph from its child's parent URN, and ends the walk on a parent loop", () => {
        const acme = plannedChild(ROOT, "tenantdb:index:TenantDatabase", "tenant-acme");
        const backups = plannedChild(acme, "tenantdb:index:TenantBackupBucket", "tenant-acme-backups");
        const key = plannedChild(backups, "aws:kms/key:Key", "tenant-acme-backups-key");
        const role = plannedChild(acme, "postgresql:index/role:Role", "tenant-acme-owner");
        assert.deepEqual(ownerOfEach([role]), { "tenant-acme-owner": "tenant acme" });
        // Without the TenantBackupBucket's own entry its parent is unknown: the key is the fleet's.
        assert.deepEqual(ownerOfEach([key]), { "tenant-acme-backups-key": "fleet" });
        assert.deepEqual(ownerOfEach([backups, key]), { "tenant-acme-backups": "tenant acme", "tenant-acme-backups-key": "tenant acme" });
        const [aUrn, bUrn] = ["urn:pulumi:dev::tenantdb::x:index:A::a", "urn:pulumi:dev::tenantdb::x:index:B::b"];
        const a = { type: "x:index:A", name: "a", urn: aUrn, parent: bUrn, inputs: {} };
        const b = { type: "x:index:B", name: "b", urn: bUrn, parent: aUrn, inputs: {} };
        assert.deepEqual(ownerOfEach([a, b]), { a: "fleet", b: "fleet" });
    });

    it("reads a server's name from its component name, server-<name>", () => {
        const names = ["server-shared-1", "server-ent-big-co", "server-", "tenant-acme"];
        assert.deepEqual(names.map(serverNameFromComponentName), ["shared-1", "ent-big-co", undefined, undefined]);
    });
});

describe("cost pricing by component", () => {
    it("matches a lifecycle to the only bucket in its component, whatever its name", () => {
        const graph = tenant("acme", "s1", { retentionDays: 14, noncurrentDays: 3 }).map((resource) =>
            resource.type === "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
                ? plannedChild(resource.parent!, resource.type, "expire-old-dumps", { rules: resource.inputs.rules })
                : resource,
        );
        const { lineItems } = priceGraph(graph, prices, resolveAssumptions({ databaseSizeGb: 4 }));
        const bucket = lineItems.find((item) => item.resourceName === "tenant-acme-backups")!;
        assert.equal(bucket.note, "daily full dump: 4 GB x 0.25 compression x 14 days + 3 noncurrent days (versioning)");
        assert.equal(bucket.quantity, 4 * 0.25 * 17);
    });

    it("leaves a bucket outside every TenantDatabase unpriced, and an RDS instance outside every RdsServer to nobody, saying so", () => {
        const graph = [
            plannedChild(ROOT, "aws:s3/bucket:Bucket", "stray", { tags: { tenant: "acme" } }),
            plannedChild(ROOT, "aws:rds/instance:Instance", "loose-db", {
                instanceClass: "db.t4g.medium",
                allocatedStorage: 20,
                backupRetentionPeriod: 1,
                tags: { server: "loose" },
            }),
        ];
        const report = estimateCost(graph, prices, resolveAssumptions());
        assert.deepEqual(report.unpriced, [
            {
                type: "aws:s3/bucket:Bucket",
                name: "stray",
                reason: "not inside a tenantdb:index:TenantDatabase component, so its backup volume cannot be estimated from a tenant database size",
            },
        ]);
        assert.ok(
            report.warnings.includes(
                'RDS instance loose-db is not inside a tenantdb:index:RdsServer component; it is listed as server "loose" but no tenant carries its costs',
            ),
        );
        assert.deepEqual(
            report.servers.map((s) => [s.server, s.monthlyUsd]),
            [["loose", 0]],
        );
        // 0.065 x 730 instance hours + 20 GB x 0.115 gp3 storage, all unallocated.
        assert.equal(Math.round(report.unallocated.monthlyUsd * 100) / 100, 49.75);
    });

    it("refuses a saved graph without URNs, naming the entry and the fix", () => {
        assert.throws(
            () => parseGraph([{ type: "aws:kms/key:Key", name: "k", inputs: {} }], "graph file old.json"),
            new CostError(
                "graph file old.json[0].urn must be the resource's URN (urn:pulumi:...); a graph saved without URNs must be saved again with --save-graph",
            ),
        );
    });
});
