/**
 * A tenant's monthly cost from its stack file, priced offline (the cost preview's path: the
 * program evaluated without the engine, the shipped or configured price book; no AWS call).
 * Evaluating the program takes a while, so each stack's report is kept until its file changes.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readStackFile, stackFilePath } from "../config/sources/stack-file";
import { costOfStackFile } from "../cost/stack-cost";
import type { CostReport } from "../cost/types";

export class CostReports {
    private readonly reports = new Map<string, { digest: string; report: Promise<CostReport> }>();

    constructor(private readonly workDir: string) {}

    /** The stack's cost report for its file as it is now. */
    report(stack: string): Promise<CostReport> {
        const file = stackFilePath(stack, this.workDir);
        const digest = createHash("sha256").update(readFileSync(file)).digest("hex");
        const cached = this.reports.get(stack);
        if (cached?.digest === digest) return cached.report;
        const report = Promise.resolve().then(() => costOfStackFile(readStackFile(file)));
        this.reports.set(stack, { digest, report });
        // A failure is not kept: the next read tries again.
        report.catch(() => this.reports.get(stack)?.report === report && this.reports.delete(stack));
        return report;
    }
}
