/**
 * `npm run bench:cost`: prices a 1,000-tenant graph (built here, shaped like the program's) and
 * compares with a baseline in the same run: a plain loop summing as many fixed figures as the
 * pricing produces line items. Target: pricing under one second once the graph exists.
 */
import { performance } from "node:perf_hooks";
import { estimateCost } from "../src/cost/allocate";
import { resolveAssumptions } from "../src/cost/assumptions";
import { defaultPricesPath, loadPriceBook } from "../src/cost/prices";
import { syntheticFleet } from "../src/cost/synthetic";

const TENANTS = 1000;
const RUNS = 7;
const TARGET_MS = 1000;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
}

const prices = loadPriceBook(defaultPricesPath());
const assumptions = resolveAssumptions({ allocation: "storage", databaseSizeGb: 5 });
// 50 standard tenants per shared server, every 20th tenant enterprise on a dedicated server.
const graph = syntheticFleet({ tenants: TENANTS, tenantsPerServer: 50, enterpriseEvery: 20 });

let report = estimateCost(graph, prices, assumptions); // warm-up
const pricingMs: number[] = [];
for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    report = estimateCost(graph, prices, assumptions);
    pricingMs.push(performance.now() - start);
}

const figures = report.lineItems.map((item) => item.unitPriceUsd);
const baselineMs: number[] = [];
let checksum = 0;
for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    let sum = 0;
    for (let j = 0; j < figures.length; j++) sum += figures[j];
    checksum += sum;
    baselineMs.push(performance.now() - start);
}

const pricing = median(pricingMs);
const baseline = median(baselineMs);
console.log(
    `graph: ${TENANTS} tenants, ${report.servers.length} servers, ${graph.length} resources -> ${report.lineItems.length} line items`,
);
console.log(`fleet total: $${report.totalMonthlyUsd.toFixed(2)}/month (worst case $${report.worstCaseMonthlyUsd.toFixed(2)})`);
console.log(
    `pricing + allocation: ${pricing.toFixed(2)} ms (median of ${RUNS}; min ${Math.min(...pricingMs).toFixed(2)}, max ${Math.max(...pricingMs).toFixed(2)})`,
);
console.log(`baseline, plain loop summing ${figures.length} figures: ${baseline.toFixed(3)} ms (checksum ${checksum.toFixed(2)})`);
console.log(`ratio pricing/baseline: ${(pricing / Math.max(baseline, 0.001)).toFixed(0)}x`);
console.log(`target < ${TARGET_MS} ms: ${pricing < TARGET_MS ? "met" : "MISSED"}`);
if (pricing >= TARGET_MS) process.exitCode = 1;
