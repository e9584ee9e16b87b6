/**
 * The seed document's estimate_monthly_cost, ported line for line, run on its own example
 * (100 tenants, 1 GB each). Its instance cost multiplies the monthly price ($13) by
 * 24 x 30 x 0.018 again: $168.48 per instance instead of $0.018 x 730 h = $13.14.
 */
import * as assert from "node:assert/strict";
import { estimateCost } from "../../src/cost/allocate";
import { resolveAssumptions } from "../../src/cost/assumptions";
import { defaultPricesPath, loadPriceBook } from "../../src/cost/prices";
import { plannedChild } from "../../src/cost/synthetic";
import { cents, ROOT } from "./fixtures";

/** Python's round() to 2 decimals for these values (no exact .005 ties occur here). */
const round2 = (value: number) => Math.round(value * 100) / 100;

/** The seed's function, as written (bug included). */
function seedEstimateMonthlyCost(numTenants: number, avgDbSizeGb: number) {
    const storageCost = numTenants * avgDbSizeGb * 0.115;
    const instancesNeeded = Math.floor(numTenants / 50) + 1;
    const instanceCost = instancesNeeded * 13 * 24 * 30 * 0.018;
    const backupCost = numTenants * avgDbSizeGb * 0.095;
    const transferCost = numTenants * 10 * 0.09;
    const totalCost = storageCost + instanceCost + backupCost + transferCost;
    return {
        storage_cost: round2(storageCost),
        instance_cost: round2(instanceCost),
        backup_cost: round2(backupCost),
        transfer_cost: round2(transferCost),
        total_monthly_cost: round2(totalCost),
        cost_per_tenant: round2(totalCost / numTenants),
        instances_needed: instancesNeeded,
    };
}

describe("the seed's estimate_monthly_cost", () => {
    const seed = seedEstimateMonthlyCost(100, 1.0);

    it("reproduces the seed's numbers for 100 tenants of 1 GB", () => {
        assert.deepEqual(seed, {
            storage_cost: 11.5,
            instance_cost: 505.44, // 3 instances x 13 x 24 x 30 x 0.018
            backup_cost: 9.5,
            transfer_cost: 90,
            total_monthly_cost: 616.44,
            cost_per_tenant: 6.16,
            instances_needed: 3,
        });
    });

    it("charges $168.48 per db.t3.micro instance where the correct figure is $13.14", () => {
        const seedPerInstance = seed.instance_cost / seed.instances_needed;
        assert.equal(round2(seedPerInstance), 168.48); // 13 x 24 x 30 x 0.018
        const prices = loadPriceBook(defaultPricesPath());
        const hourly = prices.rds.instanceHourly["db.t3.micro"].value;
        assert.equal(hourly, 0.018);
        const correctPerInstance = hourly * prices.hoursPerMonth.value; // 0.018 x 730
        assert.equal(cents(correctPerInstance), 13.14);
        assert.equal(round2(seedPerInstance / correctPerInstance), 12.82); // the seed overstates it ~12.8x
    });

    it("prices the same three db.t3.micro instances at $39.42 from the graph", () => {
        const graph = [0, 1, 2].map((i) => {
            const server = plannedChild(ROOT, "tenantdb:index:RdsServer", `server-shared-${i + 1}`);
            return plannedChild(server, "aws:rds/instance:Instance", server.name, {
                instanceClass: "db.t3.micro",
                allocatedStorage: 20,
                multiAz: false,
                backupRetentionPeriod: 0,
                tags: { server: `shared-${i + 1}` },
            });
        });
        const report = estimateCost(graph, loadPriceBook(defaultPricesPath()), resolveAssumptions());
        const hours = report.lineItems.filter((i) => i.item.startsWith("instance hours"));
        assert.equal(cents(hours.reduce((s, i) => s + i.monthlyUsd, 0)), 39.42); // vs the seed's $505.44
    });
});
