/** Allocation of server costs to tenants: equal, storage, connections, dedicated servers. */
import * as assert from "node:assert/strict";
import fc from "fast-check";
import { estimateCost } from "../../src/cost/allocate";
import { resolveAssumptions } from "../../src/cost/assumptions";
import { CostError } from "../../src/cost/errors";
import { defaultPricesPath, loadPriceBook } from "../../src/cost/prices";
import { syntheticFleet } from "../../src/cost/synthetic";
import { PlannedResource } from "../../src/cost/types";
import { cents, rdsServer, tenant } from "./fixtures";

const prices = loadPriceBook(defaultPricesPath());

// Server: db.t4g.medium Single-AZ, 20 GB gp3, managed secret, 3 alarms, a free dashboard.
// 0.065 x 730 + 20 x 0.115 + 0.40 + 3 x 0.10 = 47.45 + 2.30 + 0.40 + 0.30 = $50.45
const SERVER_USD = 50.45;
const sharedServer = () => rdsServer("shared-1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, backupRetentionPeriod: 1 });

function shares(graph: PlannedResource[], input: Parameters<typeof resolveAssumptions>[0]) {
    const report = estimateCost(graph, prices, resolveAssumptions(input));
    return Object.fromEntries(report.tenants.map((t) => [t.tenant, [t.serverShare, cents(t.serverShareUsd)]]));
}

describe("cost allocation", () => {
    const graph = [
        ...sharedServer(),
        ...tenant("acme", "shared-1", { connectionLimit: 10 }),
        ...tenant("globex", "shared-1", { connectionLimit: 30 }),
    ];

    it("splits a shared server equally", () => {
        assert.deepEqual(shares(graph, { allocation: "equal" }), {
            acme: [0.5, cents(SERVER_USD / 2)],
            globex: [0.5, cents(SERVER_USD / 2)],
        });
    });

    it("splits a shared server by database size", () => {
        // acme 1 GB, globex 3 GB: 25% and 75% of $50.45.
        assert.deepEqual(shares(graph, { allocation: "storage", databaseSizeGb: 1, tenantSizesGb: { globex: 3 } }), {
            acme: [0.25, cents(SERVER_USD * 0.25)],
            globex: [0.75, cents(SERVER_USD * 0.75)],
        });
    });

    it("splits a shared server by connection limit", () => {
        // 10 and 30 connections: 25% and 75%.
        assert.deepEqual(shares(graph, { allocation: "connections" }), { acme: [0.25, 12.61], globex: [0.75, 37.84] });
    });

    it("refuses connection allocation when a tenant has no limit, naming the tenant, the server and the fix", () => {
        const unlimited = [...sharedServer(), ...tenant("acme", "shared-1", { connectionLimit: -1 })];
        assert.throws(
            () => estimateCost(unlimited, prices, resolveAssumptions({ allocation: "connections" })),
            new CostError(
                'tenantdb:cost.allocation is "connections" but tenant acme on server shared-1 has connectionLimit -1 (unlimited); give the tenant a connection limit, or set tenantdb:cost.allocation to "equal" or "storage".',
            ),
        );
    });

    it("gives a dedicated server's whole cost to its tenant", () => {
        const dedicated = [
            ...sharedServer(),
            ...tenant("acme", "shared-1"),
            ...rdsServer("ent-initech", { instanceClass: "db.t4g.medium", allocatedStorage: 20, backupRetentionPeriod: 1 }, "initech"),
            ...tenant("initech", "ent-initech", { plan: "enterprise" }),
        ];
        const report = estimateCost(dedicated, prices, resolveAssumptions());
        assert.deepEqual(
            report.servers.map((s) => [s.server, s.dedicatedTo, s.tenants, cents(s.monthlyUsd)]),
            [
                ["ent-initech", "initech", ["initech"], SERVER_USD],
                ["shared-1", undefined, ["acme"], SERVER_USD],
            ],
        );
        const initech = report.tenants.find((t) => t.tenant === "initech");
        assert.equal(initech?.plan, "enterprise");
        assert.equal(initech?.serverShare, 1);
        assert.equal(cents(initech!.serverShareUsd), SERVER_USD);
    });

    it("keeps a server without tenants, and untagged resources, unallocated but in the total", () => {
        const idle = [...sharedServer(), { type: "aws:secretsmanager/secret:Secret", name: "loose", inputs: {} }];
        const report = estimateCost(idle, prices, resolveAssumptions());
        assert.equal(report.tenants.length, 0);
        assert.equal(cents(report.unallocated.monthlyUsd), cents(SERVER_USD + 0.4));
        assert.equal(cents(report.totalMonthlyUsd), cents(SERVER_USD + 0.4));
    });

    it("adds up: tenant rows plus unallocated equal the total, for any fleet and rule", () => {
        fc.assert(
            fc.property(
                fc.integer({ min: 1, max: 60 }),
                fc.integer({ min: 1, max: 20 }),
                fc.integer({ min: 0, max: 7 }),
                fc.constantFrom("equal" as const, "storage" as const, "connections" as const),
                (tenants, perServer, enterpriseEvery, allocation) => {
                    const report = estimateCost(
                        syntheticFleet({ tenants, tenantsPerServer: perServer, enterpriseEvery }),
                        prices,
                        resolveAssumptions({ allocation }),
                    );
                    const sum = report.tenants.reduce((s, t) => s + t.monthlyUsd, 0) + report.unallocated.monthlyUsd;
                    assert.ok(Math.abs(sum - report.totalMonthlyUsd) < 1e-6, `${sum} != ${report.totalMonthlyUsd}`);
                },
            ),
            { numRuns: 50 },
        );
    });

    it("never moves the cost of a tenant on another server when a tenant is added", () => {
        fc.assert(
            fc.property(fc.integer({ min: 2, max: 40 }), (tenants) => {
                // 10 per server: adding tenant N+1 lands on the last server only.
                const before = estimateCost(syntheticFleet({ tenants, tenantsPerServer: 10 }), prices, resolveAssumptions());
                const after = estimateCost(syntheticFleet({ tenants: tenants + 1, tenantsPerServer: 10 }), prices, resolveAssumptions());
                const lastServer = after.tenants[after.tenants.length - 1].server;
                for (const t of before.tenants) {
                    if (t.server === lastServer) continue;
                    assert.equal(after.tenants.find((a) => a.tenant === t.tenant)?.monthlyUsd, t.monthlyUsd, t.tenant);
                }
            }),
            { numRuns: 30 },
        );
    });
});
