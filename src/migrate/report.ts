/** The fleet report as a table for people and as JSON for machines. */
import Table from "cli-table3";
import type { FleetReport } from "./fleet";
import type { TenantResult } from "./tenant";

const version = (name: string | null) => name ?? "(empty)";

function detail(result: TenantResult): string {
    if (result.error) return result.error;
    const parts: string[] = [];
    if (result.applied.length) parts.push(`applied ${result.applied.join(", ")}`);
    if (result.reverted.length) parts.push(`reverted ${result.reverted.join(", ")}`);
    if (result.message) parts.push(result.message);
    if (!result.applied.length && !result.reverted.length && result.pending.length) parts.push(`${result.pending.length} pending`);
    if (result.drift.length) parts.push(`drift: ${result.drift.map((d) => `${d.name} (${d.kind})`).join(", ")}`);
    return parts.join("; ");
}

/** One row per tenant, then a summary line. `width` wraps the detail column. */
export function formatTable(report: FleetReport, width = 80): string {
    const table = new Table({
        head: ["tenant", "server", "outcome", "from", "to", "ms", "detail"],
        colWidths: [null, null, null, null, null, null, Math.max(30, width)],
        wordWrap: true,
        style: { head: [], border: [] },
    });
    for (const r of report.tenants)
        table.push([r.tenantId, r.server, r.outcome, version(r.from), version(r.to), String(r.durationMs), detail(r)]);
    return `${table.toString()}\n${summary(report)}`;
}

export function summary(report: FleetReport): string {
    const counts = Object.entries(report.counts)
        .filter(([, n]) => n > 0)
        .map(([outcome, n]) => `${n} ${outcome}`)
        .join(", ");
    const mode = `${report.mode}${report.dryRun ? " (dry run)" : ""}${report.to ? ` --to ${report.to}` : ""}`;
    const stopped = report.stopped ? `; stopped early: ${report.stopped}` : "";
    return `${mode}: ${report.tenants.length} tenant(s) in ${(report.durationMs / 1000).toFixed(1)} s: ${counts || "nothing selected"}${stopped}`;
}

/** The report as one JSON document; `sql` holds --print-sql's planned SQL. */
export function formatJson(report: FleetReport & { readonly sql?: unknown }): string {
    return JSON.stringify(report, null, 2);
}
