/**
 * A tenant's monthly cost from its stack file, priced offline (the cost preview's path: the
 * program evaluated without the engine, the shipped or configured price book; no AWS call).
 * Evaluating the program takes a while, so each stack's report is kept until its file changes.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { loadStackModel, withEveryServerPassword } from "../config/load";
import { readStackFile, stackFilePath } from "../config/sources/stack-file";
import { estimateCost } from "../cost/allocate";
import { assumptionsFromModel } from "../cost/assumptions";
import { CostError } from "../cost/errors";
import { offlineGraph } from "../cost/offline-graph";
import { defaultPricesPath, loadPriceBook } from "../cost/prices";
import type { CostReport } from "../cost/types";

const PRICES_CONFIG_KEY = "tenantdb:costPrices";

export class CostReports {
    private readonly reports = new Map<string, { digest: string; report: Promise<CostReport> }>();

    constructor(private readonly workDir: string) {}

    /** The stack's cost report for its file as it is now. */
    report(stack: string): Promise<CostReport> {
        const file = stackFilePath(stack, this.workDir);
        const digest = createHash("sha256").update(readFileSync(file)).digest("hex");
        const cached = this.reports.get(stack);
        if (cached?.digest === digest) return cached.report;
        const report = priceStackFile(file);
        this.reports.set(stack, { digest, report });
        // A failure is not kept: the next read tries again.
        report.catch(() => this.reports.get(stack)?.report === report && this.reports.delete(stack));
        return report;
    }
}

async function priceStackFile(file: string): Promise<CostReport> {
    const stack = readStackFile(file);
    const assumptions = assumptionsFromModel(loadStackModel(withEveryServerPassword(stack.source)));
    const graph = await offlineGraph(stack);
    const configured = stack.config[PRICES_CONFIG_KEY];
    const prices = configured ? path.resolve(path.dirname(file), configured) : defaultPricesPath(assumptions.region);
    if (!existsSync(prices)) throw new CostError(`no prices file for region ${assumptions.region} (looked for ${prices})`);
    return estimateCost(graph, loadPriceBook(prices), assumptions);
}
