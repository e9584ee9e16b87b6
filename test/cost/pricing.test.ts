/**
 * Pricing of contract-shaped graphs. Expected dollars are computed by hand from the figures of
 * prices/aws-us-east-1.json, which the first test pins.
 */
import * as assert from "node:assert/strict";
import { estimateCost } from "../../src/cost/allocate";
import { resolveAssumptions } from "../../src/cost/assumptions";
import { CostError } from "../../src/cost/errors";
import { defaultPricesPath, loadPriceBook } from "../../src/cost/prices";
import { priceGraph } from "../../src/cost/pricing";
import { readLifecycleRules } from "../../src/cost/pricing-s3";
import { PlannedResource } from "../../src/cost/types";
import { cents, rdsServer, tenant } from "./fixtures";

const prices = loadPriceBook(defaultPricesPath());

// The figures these tests compute with (us-east-1).
const HOURS = 730;
const T4G_MEDIUM = 0.065; // $/instance-hour
const M6G_LARGE = 0.159;
const GP3_GB = 0.115; // $/GB-month
const IO1_GB = 0.125;
const IO1_IOPS = 0.1; // $/IOPS-month
const GP3_IOPS = 0.02;
const BACKUP_GB = 0.095;
const PI_FIRST = 1.51; // $/vCPU-month
const PI_NEXT = 0.064;
const S3_GB = 0.023;
const KMS_KEY = 1;
const KMS_10K = 0.03;
const SECRET = 0.4;
const ALARM = 0.1;
const ALARM_HIGH_RES = 0.3;
const DASHBOARD = 3;
const TRANSFER_GB = 0.09;

function itemsOf(graph: PlannedResource[], assumptions = resolveAssumptions()) {
    return priceGraph(graph, prices, assumptions);
}

function item(graph: PlannedResource[], resourceName: string, itemPrefix: string, assumptions = resolveAssumptions()) {
    const found = itemsOf(graph, assumptions).lineItems.filter((i) => i.resourceName === resourceName && i.item.startsWith(itemPrefix));
    assert.equal(found.length, 1, `expected one "${itemPrefix}" item for ${resourceName}, found ${found.length}`);
    return found[0];
}

describe("cost pricing", () => {
    it("computes with the figures of the shipped prices file", () => {
        assert.equal(prices.hoursPerMonth.value, HOURS);
        assert.equal(prices.rds.instanceHourly["db.t4g.medium"].value, T4G_MEDIUM);
        assert.equal(prices.rds.instanceHourly["db.m6g.large"].value, M6G_LARGE);
        assert.equal(prices.rds.storageGbMonth.gp3.value, GP3_GB);
        assert.equal(prices.rds.storageGbMonth.io1.value, IO1_GB);
        assert.equal(prices.rds.iopsMonth.io1.value, IO1_IOPS);
        assert.equal(prices.rds.iopsMonth.gp3.value, GP3_IOPS);
        assert.equal(prices.rds.backupGbMonth.value, BACKUP_GB);
        assert.equal(prices.rds.performanceInsights.firstMonthPerVcpu.value, PI_FIRST);
        assert.equal(prices.rds.performanceInsights.additionalMonthPerVcpu.value, PI_NEXT);
        assert.equal(prices.s3.standardGbMonth.value, S3_GB);
        assert.equal(prices.kms.keyMonth.value, KMS_KEY);
        assert.equal(prices.kms.per10kRequests.value, KMS_10K);
        assert.equal(prices.secretsManager.secretMonth.value, SECRET);
        assert.equal(prices.cloudwatch.standardAlarmMonth.value, ALARM);
        assert.equal(prices.cloudwatch.highResolutionAlarmMonth.value, ALARM_HIGH_RES);
        assert.equal(prices.cloudwatch.dashboardMonth.value, DASHBOARD);
        assert.equal(prices.cloudwatch.freeDashboards.value, 3);
        assert.equal(prices.dataTransfer.outToInternetGb.value, TRANSFER_GB);
    });

    it("prices instance hours at hourly x 730, twice for Multi-AZ", () => {
        const single = rdsServer("s1", { instanceClass: "db.t4g.medium", allocatedStorage: 20 });
        const multi = rdsServer("s1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, multiAz: true });
        assert.equal(cents(item(single, "server-s1", "instance hours").monthlyUsd), 47.45); // 0.065 x 730
        assert.equal(cents(item(multi, "server-s1", "instance hours").monthlyUsd), 94.9); // x 2
        assert.equal(item(multi, "server-s1", "instance hours").item, "instance hours (db.t4g.medium, Multi-AZ)");
    });

    it("prices allocated storage, and the autoscaling ceiling as the worst case, twice for Multi-AZ", () => {
        const graph = rdsServer("s1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, maxAllocatedStorage: 100, multiAz: true });
        const storage = item(graph, "server-s1", "storage");
        assert.equal(storage.item, "storage (gp3, Multi-AZ)");
        assert.equal(cents(storage.monthlyUsd), cents(20 * GP3_GB * 2)); // $4.60
        assert.equal(cents(storage.worstCaseMonthlyUsd), cents(100 * GP3_GB * 2)); // $23.00
        assert.equal(cents(storage.monthlyUsd), 4.6);
        assert.equal(cents(storage.worstCaseMonthlyUsd), 23);
    });

    it("prices io1 storage and provisioned IOPS, and gp3 IOPS above the baseline only", () => {
        const io1 = rdsServer("s1", { instanceClass: "db.m6g.large", allocatedStorage: 100, storageType: "io1", iops: 3000 });
        assert.equal(cents(item(io1, "server-s1", "storage").monthlyUsd), 12.5); // 100 x 0.125
        assert.equal(cents(item(io1, "server-s1", "provisioned IOPS").monthlyUsd), 300); // 3000 x 0.10
        const gp3Small = rdsServer("s1", { instanceClass: "db.m6g.large", allocatedStorage: 100, iops: 5000 });
        assert.equal(cents(item(gp3Small, "server-s1", "IOPS above gp3 baseline").monthlyUsd), 40); // (5000 - 3000) x 0.02
        const gp3Large = rdsServer("s1", { instanceClass: "db.m6g.large", allocatedStorage: 400, iops: 5000 });
        assert.equal(itemsOf(gp3Large).lineItems.filter((i) => i.item.startsWith("IOPS")).length, 0); // 12,000 included from 400 GB
    });

    it("prices automated backups beyond the free allowance from the tenants' sizes, retention and change rate", () => {
        const graph = [
            ...rdsServer("s1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, backupRetentionPeriod: 30 }),
            ...tenant("acme", "s1"),
            ...tenant("globex", "s1"),
        ];
        // 2 tenants x 5 GB x (1 + 0.05 x 30) = 25 GB of backups; 20 GB free; 5 GB x 0.095 = $0.475.
        const assumptions = resolveAssumptions({ databaseSizeGb: 5 });
        const backup = item(graph, "server-s1", "backup storage", assumptions);
        assert.equal(backup.quantity, 5);
        assert.equal(backup.monthlyUsd, 5 * BACKUP_GB);
        // Within the allowance: nothing to pay, but the line says why.
        const small = item(graph, "server-s1", "backup storage", resolveAssumptions({ databaseSizeGb: 1 }));
        assert.equal(small.monthlyUsd, 0);
        assert.match(small.note ?? "", /5 GB of backups \(2 tenants, 30 days, 5%\/day change\) minus 20 GB free/);
    });

    it("prices Performance Insights only beyond the free 7 days, per vCPU, doubled for Multi-AZ", () => {
        const free = rdsServer("s1", { instanceClass: "db.m6g.large", allocatedStorage: 20, performanceInsightsRetentionPeriod: 7 });
        assert.equal(itemsOf(free).lineItems.filter((i) => i.item.startsWith("Performance Insights")).length, 0);
        const threeMonths = rdsServer("s1", {
            instanceClass: "db.m6g.large",
            allocatedStorage: 20,
            multiAz: true,
            performanceInsightsRetentionPeriod: 93,
        });
        const pi = item(threeMonths, "server-s1", "Performance Insights");
        // 2 vCPU x 2 (Multi-AZ) x (1.51 + 2 x 0.064) = 4 x 1.638 = $6.552
        assert.equal(pi.quantity, 4);
        assert.equal(cents(pi.monthlyUsd), cents(4 * (PI_FIRST + 2 * PI_NEXT)));
        assert.equal(cents(pi.monthlyUsd), 6.55);
        const twoYears = rdsServer("s1", { instanceClass: "db.m6g.large", allocatedStorage: 20, performanceInsightsRetentionPeriod: 731 });
        assert.equal(cents(item(twoYears, "server-s1", "Performance Insights").monthlyUsd), cents(2 * (PI_FIRST + 23 * PI_NEXT))); // $5.96
    });

    it("prices the RDS-managed master password as one Secrets Manager secret", () => {
        const managed = rdsServer("s1", { instanceClass: "db.t4g.medium", allocatedStorage: 20 });
        assert.equal(item(managed, "server-s1", "master password secret").monthlyUsd, SECRET);
        const unmanaged = rdsServer("s1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, manageMasterUserPassword: false });
        assert.equal(itemsOf(unmanaged).lineItems.filter((i) => i.item.startsWith("master password")).length, 0);
    });

    it("prices S3 backups as size x compression x (expiration + noncurrent days), per tenant", () => {
        const graph = tenant("acme", "s1", { retentionDays: 30, noncurrentDays: 7 });
        const bucket = item(graph, "tenant-acme-backups", "backup storage (S3", resolveAssumptions({ databaseSizeGb: 4 }));
        // 4 GB x 0.25 x (30 + 7) days = 37 GB; x 0.023 = $0.851
        assert.equal(bucket.quantity, 37);
        assert.equal(cents(bucket.monthlyUsd), 0.85);
        assert.equal(bucket.note, "daily full dump: 4 GB x 0.25 compression x 30 days + 7 noncurrent days (versioning)");
        assert.deepEqual(bucket.owner, { kind: "tenant", tenant: "acme" });
    });

    it("uses a tenant's expectedSizeGb over databaseSizeGb", () => {
        const graph = tenant("acme", "s1");
        const bucket = item(
            graph,
            "tenant-acme-backups",
            "backup storage (S3",
            resolveAssumptions({ databaseSizeGb: 4, tenantSizesGb: { acme: 10 } }),
        );
        assert.equal(bucket.quantity, 10 * 0.25 * 37);
    });

    it("prices a KMS key per key-month plus the assumed requests, and data transfer per tenant", () => {
        const graph = tenant("acme", "s1");
        const priced = itemsOf(graph);
        const kms = priced.lineItems.filter((i) => i.resourceName === "tenant-acme-backups-key");
        assert.deepEqual(
            kms.map((i) => [i.item, i.monthlyUsd]),
            [
                ["key", KMS_KEY],
                ["requests", KMS_10K],
            ],
        );
        const transfer = priced.lineItems.filter((i) => i.item === "data transfer out");
        assert.deepEqual(
            transfer.map((i) => [i.resourceName, cents(i.monthlyUsd)]),
            [["data transfer acme", 0.9]],
        ); // 10 GB x 0.09
    });

    it("prices alarms by resolution and dashboards after the three free ones, in name order", () => {
        const graph: PlannedResource[] = [
            { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: "a", inputs: { period: 300 } },
            { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: "b", inputs: { period: 10 } },
            ...["d4", "d2", "d1", "d3", "d5"].map((name) => ({ type: "aws:cloudwatch/dashboard:Dashboard", name, inputs: {} })),
        ];
        const priced = itemsOf(graph);
        assert.deepEqual(
            priced.lineItems.map((i) => [i.resourceName, i.item, i.monthlyUsd]),
            [
                ["a", "alarm", ALARM],
                ["b", "alarm (high resolution)", ALARM_HIGH_RES],
                ["d1", "dashboard", 0],
                ["d2", "dashboard", 0],
                ["d3", "dashboard", 0],
                ["d4", "dashboard", DASHBOARD],
                ["d5", "dashboard", DASHBOARD],
            ],
        );
    });

    it("counts free types as free and lists every other unknown type as unpriced, never as zero", () => {
        const graph: PlannedResource[] = [
            { type: "postgresql:index/grant:Grant", name: "g", inputs: {} },
            { type: "random:index/randomPassword:RandomPassword", name: "p", inputs: {} },
            { type: "pulumi:providers:aws", name: "aws", inputs: {} },
            { type: "tenantdb:index:TenantDatabase", name: "t", inputs: {} },
            { type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment", name: "att", inputs: {} },
            { type: "aws:elasticache/cluster:Cluster", name: "cache", inputs: {} },
            ...rdsServer("s1", { instanceClass: "db.x9.huge", allocatedStorage: 20 }),
        ];
        const priced = itemsOf(graph);
        assert.deepEqual(priced.unpriced, [
            { type: "aws:elasticache/cluster:Cluster", name: "cache", reason: "no price for this resource type in the cost preview" },
            {
                type: "aws:rds/instance:Instance",
                name: "server-s1 (instance hours)",
                reason: 'instanceClass "db.x9.huge" has no price in the prices file; add rds.instanceHourly["db.x9.huge"] or run `npm run cost -- refresh-prices`',
            },
        ]);
        // grant, password, aws provider, component, attachment + the server's component, parameter group, provider
        assert.equal(priced.freeResources, 8);
    });

    it("reads lifecycle rules: the longest enabled expiration, in object or list form", () => {
        assert.deepEqual(
            readLifecycleRules([
                { status: "Enabled", expiration: { days: 30 } },
                { status: "Disabled", expiration: { days: 90 } },
            ]),
            { expiration: 30 },
        );
        assert.deepEqual(
            readLifecycleRules([{ status: "Enabled", expiration: [{ days: 14 }], noncurrentVersionExpiration: [{ noncurrentDays: 3 }] }]),
            { expiration: 14, noncurrent: 3 },
        );
        assert.deepEqual(readLifecycleRules(undefined), {});
    });

    it("assumes 30 days, with a warning, when a bucket has no lifecycle", () => {
        const graph = tenant("acme", "s1").filter((r) => r.type !== "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
        const priced = itemsOf(graph);
        const bucket = priced.lineItems.find((i) => i.resourceName === "tenant-acme-backups" && i.item.startsWith("backup"));
        assert.equal(bucket?.quantity, 1 * 0.25 * 30);
        assert.ok(priced.warnings.includes("bucket tenant-acme-backups: no lifecycle expiration found; assuming backups are kept 30 days"));
    });

    it("refuses prices for another region than tenantdb:cost.region, naming both and the fix", () => {
        assert.throws(
            () => estimateCost([], prices, resolveAssumptions({ region: "eu-west-1" })),
            (error: unknown) =>
                error instanceof CostError &&
                error.message.startsWith('The prices file covers region "us-east-1" but tenantdb:cost.region is "eu-west-1".') &&
                error.message.includes("npm run cost -- refresh-prices --region eu-west-1"),
        );
    });

    it("prices a whole server and its tenants to the cent", () => {
        const graph = [
            ...rdsServer("shared-1", {
                instanceClass: "db.t4g.medium",
                allocatedStorage: 20,
                maxAllocatedStorage: 100,
                multiAz: true,
                backupRetentionPeriod: 30,
            }),
            ...tenant("acme", "shared-1"),
            ...tenant("globex", "shared-1"),
        ];
        const report = estimateCost(graph, prices, resolveAssumptions({ databaseSizeGb: 2 }));
        // Server: 94.90 instance + 4.60 storage + 0 backup (2 x 2 x 2.5 = 10 GB < 20 free) + 0.40 secret + 0.30 alarms + 0 dashboard (free)
        const server = T4G_MEDIUM * HOURS * 2 + 20 * GP3_GB * 2 + SECRET + 3 * ALARM;
        assert.equal(cents(server), 100.2);
        // Tenant: 1.03 KMS + 2 x 0.25 x 37 x 0.023 = 0.4255 S3 + 0.90 transfer
        const own = KMS_KEY + KMS_10K + 2 * 0.25 * 37 * S3_GB + 10 * TRANSFER_GB;
        assert.equal(cents(own), 2.36);
        assert.equal(cents(report.totalMonthlyUsd), cents(server + 2 * own));
        assert.equal(cents(report.totalMonthlyUsd), 104.91);
        assert.equal(cents(report.worstCaseMonthlyUsd), cents(server + 80 * GP3_GB * 2 + 2 * own)); // storage at 100 GB
        assert.deepEqual(
            report.tenants.map((t) => [t.tenant, t.plan, t.server, t.serverShare, cents(t.monthlyUsd)]),
            [
                ["acme", "standard", "shared-1", 0.5, cents(server / 2 + own)],
                ["globex", "standard", "shared-1", 0.5, cents(server / 2 + own)],
            ],
        );
        assert.deepEqual(report.unpriced, []);
    });
});
