/**
 * Renders cost previews and diffs as a terminal table, JSON or Markdown. Dollar amounts are
 * rounded to cents here, and only here; the report keeps unrounded values.
 */
import Table from "cli-table3";
import { CostDiff, CostReport } from "./types";

export type OutputFormat = "table" | "json" | "markdown";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json", "markdown"];

/** Rounds dollars to cents (half away from zero). */
export function roundCents(usd: number): number {
    const cents = Math.round(Math.abs(usd) * 100 + 1e-9) / 100;
    return usd < 0 ? -cents : cents;
}

/** `$1,234.56`, `-$3.00`. */
export function formatUsd(usd: number): string {
    const rounded = roundCents(usd);
    const text = Math.abs(rounded).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return `${rounded < 0 ? "-" : ""}$${text}`;
}

/** `+$3.00`, `-$3.00`, `$0.00`. */
export function formatDelta(usd: number): string {
    const rounded = roundCents(usd);
    return rounded > 0 ? `+${formatUsd(rounded)}` : formatUsd(rounded);
}

function percent(fraction: number): string {
    return `${(Math.round(fraction * 10_000) / 100).toString()}%`;
}

/** JSON with every `...Usd` field and `unitPriceUsd` rounded to cents or kept exact as priced. */
export function toJson(value: CostReport | CostDiff): string {
    return JSON.stringify(
        value,
        (key, v) => {
            if (typeof v === "number" && key.endsWith("Usd") && key !== "unitPriceUsd") return roundCents(v);
            return v;
        },
        2,
    );
}

interface Section {
    readonly title: string;
    readonly head: string[];
    readonly rows: string[][];
}

/** The resources no price covers, in report and diff alike. */
function unpricedSection(title: string, unpriced: readonly { type: string; name: string; reason: string }[]): Section {
    return { title, head: ["Type", "Name", "Reason"], rows: unpriced.map((u) => [u.type, u.name, u.reason]) };
}

function reportSections(report: CostReport): { summary: string[]; sections: Section[]; notes: string[] } {
    const summary = [
        `Region ${report.region}; shared servers split by ${report.allocation}; ${report.tenants.length} tenants on ${report.servers.length} servers.`,
        `Total ${formatUsd(report.totalMonthlyUsd)}/month (worst case with storage at its autoscaling ceiling: ${formatUsd(report.worstCaseMonthlyUsd)}).`,
    ];
    const sections: Section[] = [
        {
            title: "Tenants",
            head: ["Tenant", "Plan", "Server", "Size GB", "Server share", "Server cost", "Own resources", "Monthly", "Worst case"],
            rows: report.tenants.map((t) => [
                t.tenant,
                t.plan ?? "",
                t.server ?? "",
                String(t.sizeGb),
                percent(t.serverShare),
                formatUsd(t.serverShareUsd),
                formatUsd(t.ownUsd),
                formatUsd(t.monthlyUsd),
                formatUsd(t.worstCaseMonthlyUsd),
            ]),
        },
        {
            title: "Servers",
            head: ["Server", "Class", "Multi-AZ", "Tenants", "Dedicated to", "Monthly", "Worst case"],
            rows: report.servers.map((s) => [
                s.server,
                s.instanceClass ?? "",
                s.multiAz ? "yes" : "no",
                String(s.tenants.length),
                s.dedicatedTo ?? "",
                formatUsd(s.monthlyUsd),
                formatUsd(s.worstCaseMonthlyUsd),
            ]),
        },
    ];
    if (report.unallocated.items.length > 0) {
        sections.push({
            title: `Not allocated to a tenant (${formatUsd(report.unallocated.monthlyUsd)})`,
            head: ["Resource", "Item", "Monthly"],
            rows: report.unallocated.items.map((i) => [i.resourceName, i.item, formatUsd(i.monthlyUsd)]),
        });
    }
    if (report.unpriced.length > 0) sections.push(unpricedSection("Unpriced (not counted in any total)", report.unpriced));
    const notes = [
        `${report.freeResources} resources cost nothing by themselves (PostgreSQL objects, random values, providers, components, configuration).`,
        ...report.warnings.map((w) => `Warning: ${w}`),
    ];
    return { summary, sections, notes };
}

function diffSections(diff: CostDiff): { summary: string[]; sections: Section[]; notes: string[] } {
    const summary = [
        `Total ${formatUsd(diff.beforeTotalUsd)} -> ${formatUsd(diff.afterTotalUsd)}/month (${formatDelta(diff.deltaUsd)}).`,
        `Worst case ${formatUsd(diff.beforeWorstCaseUsd)} -> ${formatUsd(diff.afterWorstCaseUsd)} (${formatDelta(diff.worstCaseDeltaUsd)}).`,
    ];
    const changedTenants = diff.tenants.filter((t) => t.status !== "unchanged");
    const sections: Section[] = [
        {
            title: `Tenants (${changedTenants.length} changed of ${diff.tenants.length})`,
            head: ["Tenant", "Change", "Plan", "Server", "Before", "After", "Delta"],
            rows: changedTenants.map((t) => [
                t.tenant,
                t.status,
                t.beforePlan === t.afterPlan ? (t.afterPlan ?? "") : `${t.beforePlan ?? "-"} -> ${t.afterPlan ?? "-"}`,
                t.beforeServer === t.afterServer ? (t.afterServer ?? "") : `${t.beforeServer ?? "-"} -> ${t.afterServer ?? "-"}`,
                formatUsd(t.beforeUsd),
                formatUsd(t.afterUsd),
                formatDelta(t.deltaUsd),
            ]),
        },
        {
            title: "Servers",
            head: ["Server", "Change", "Before", "After", "Delta"],
            rows: diff.servers
                .filter((s) => s.status !== "unchanged")
                .map((s) => [s.server, s.status, formatUsd(s.beforeUsd), formatUsd(s.afterUsd), formatDelta(s.deltaUsd)]),
        },
    ];
    if (diff.unpricedAfter.length > 0) sections.push(unpricedSection("Unpriced after the change (not counted)", diff.unpricedAfter));
    const notes = [
        `Not allocated to a tenant: ${formatUsd(diff.beforeUnallocatedUsd)} -> ${formatUsd(diff.afterUnallocatedUsd)}.`,
        ...diff.warnings.map((w) => `Warning: ${w}`),
    ];
    return { summary, sections, notes };
}

function renderTable(parts: { summary: string[]; sections: Section[]; notes: string[] }): string {
    const out = [...parts.summary, ""];
    for (const section of parts.sections) {
        out.push(section.title);
        if (section.rows.length === 0) {
            out.push("  (none)", "");
            continue;
        }
        const table = new Table({ head: section.head, style: { head: [], border: [] } });
        table.push(...section.rows);
        out.push(table.toString(), "");
    }
    out.push(...parts.notes);
    return out.join("\n");
}

function escapeMarkdown(cell: string): string {
    return cell.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function renderMarkdown(title: string, parts: { summary: string[]; sections: Section[]; notes: string[] }): string {
    const out = [`# ${title}`, "", ...parts.summary, ""];
    for (const section of parts.sections) {
        out.push(`## ${section.title}`, "");
        if (section.rows.length === 0) {
            out.push("(none)", "");
            continue;
        }
        out.push(`| ${section.head.join(" | ")} |`, `| ${section.head.map(() => "---").join(" | ")} |`);
        for (const row of section.rows) out.push(`| ${row.map(escapeMarkdown).join(" | ")} |`);
        out.push("");
    }
    for (const note of parts.notes) out.push(`- ${note}`);
    return out.join("\n");
}

export function renderReport(report: CostReport, format: OutputFormat): string {
    if (format === "json") return toJson(report);
    const parts = reportSections(report);
    return format === "markdown" ? renderMarkdown("Cost preview", parts) : renderTable(parts);
}

export function renderDiff(diff: CostDiff, format: OutputFormat): string {
    if (format === "json") return toJson(diff);
    const parts = diffSections(diff);
    return format === "markdown" ? renderMarkdown("Cost diff", parts) : renderTable(parts);
}
