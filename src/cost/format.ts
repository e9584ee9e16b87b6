/**
 * Renders cost previews and diffs as a terminal table, JSON or Markdown. Dollar amounts are
 * rounded to cents here, and only here; the report keeps unrounded values.
 */
import Table from "cli-table3";
import { EXTERNAL_SERVER } from "./pricing";
import type { TenantDiff, TenantReport } from "./tenant";
import { CostDiff, CostReport, PricesSummary, UnpricedResource } from "./types";

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
export function toJson(value: CostReport | CostDiff | TenantReport | TenantDiff): string {
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

/** `Prices: <file> (us-east-1, USD), figures dated 2025 to 2026-06-13; sources: aws.amazon.com (33), ...` */
export function pricesLine(prices: PricesSummary): string {
    const dates =
        prices.oldestDate === prices.newestDate ? `dated ${prices.oldestDate}` : `dated ${prices.oldestDate} to ${prices.newestDate}`;
    const shown = prices.sources.slice(0, 3).map((s) => `${s.source} (${s.figures})`);
    const more = prices.sources.length - shown.length;
    const sources = `${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
    return (
        `Prices: ${prices.file ? `${prices.file} (${prices.region}, ${prices.currency})` : `${prices.region}, ${prices.currency}`}, ${prices.figures} figures ${dates}; ` +
        `sources: ${sources}; each figure's date and source are in the file.`
    );
}

/** `3 tenants on 1 server (1 external, unpriced)`. */
function placementSummary(report: CostReport): string {
    const external = report.servers.filter((s) => s.kind === "external");
    const unpriced = external.filter((s) => !s.priced).length;
    const detail =
        external.length === 0
            ? ""
            : ` (${external.length} external${unpriced === 0 ? "" : unpriced === external.length ? ", unpriced" : `, ${unpriced} unpriced`})`;
    const servers = report.servers.length;
    return `${report.tenants.length} tenant${report.tenants.length === 1 ? "" : "s"} on ${servers} server${servers === 1 ? "" : "s"}${detail}`;
}

/** The lines that say why an external server is unpriced and that its tenants' data transfer is not billed. */
function externalServerNotes(report: CostReport): string[] {
    const notes: string[] = [];
    for (const server of report.servers.filter((s) => s.kind === "external")) {
        const reason = report.unpriced.find((u) => u.type === EXTERNAL_SERVER && u.name === server.server)?.reason;
        notes.push(
            server.priced
                ? `Server ${server.server} is external, priced at ${formatUsd(server.monthlyUsd)}/month from tenantdb:cost.servers.${server.server}.monthlyUsd.`
                : `Server ${server.server} is external, unpriced: ${reason ?? "tenantdb does not know what it costs"}.`,
        );
        if (server.tenants.length > 0 && report.assumptions.transferGbPerTenant > 0)
            notes.push(`No data transfer is billed for its tenants (${server.tenants.join(", ")}): the server is not in AWS.`);
    }
    return notes;
}

/** Unpriced resources that are not external servers (those have their own lines). */
function unpricedResources(unpriced: readonly UnpricedResource[]): UnpricedResource[] {
    return unpriced.filter((u) => u.type !== EXTERNAL_SERVER);
}

function serverCostCell(priced: boolean, usd: number): string {
    return priced ? formatUsd(usd) : "unpriced";
}

function reportSections(report: CostReport): { summary: string[]; sections: Section[]; notes: string[] } {
    const summary = [
        `Region ${report.region}; shared servers split by ${report.allocation}; ${placementSummary(report)}.`,
        `Total ${formatUsd(report.totalMonthlyUsd)}/month (worst case with storage at its autoscaling ceiling: ${formatUsd(report.worstCaseMonthlyUsd)}).`,
        pricesLine(report.prices),
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
                serverCostCell(t.serverPriced, t.serverShareUsd),
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
                s.kind === "external" ? "external" : (s.instanceClass ?? ""),
                s.kind === "external" ? "-" : s.multiAz ? "yes" : "no",
                String(s.tenants.length),
                s.dedicatedTo ?? "",
                serverCostCell(s.priced, s.monthlyUsd),
                serverCostCell(s.priced, s.worstCaseMonthlyUsd),
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
    const unpriced = unpricedResources(report.unpriced);
    if (unpriced.length > 0) sections.push(unpricedSection("Unpriced (not counted in any total)", unpriced));
    const notes = [
        ...externalServerNotes(report),
        `${report.freeResources} resources cost nothing by themselves (PostgreSQL objects, random values, providers, components, configuration).`,
        ...report.warnings.map((w) => `Warning: ${w}`),
    ];
    return { summary, sections, notes };
}

function diffSections(diff: CostDiff): { summary: string[]; sections: Section[]; notes: string[] } {
    const summary = [
        `Total ${formatUsd(diff.beforeTotalUsd)} -> ${formatUsd(diff.afterTotalUsd)}/month (${formatDelta(diff.deltaUsd)}).`,
        `Worst case ${formatUsd(diff.beforeWorstCaseUsd)} -> ${formatUsd(diff.afterWorstCaseUsd)} (${formatDelta(diff.worstCaseDeltaUsd)}).`,
        pricesLine(diff.prices),
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
                .map((s) =>
                    s.priced
                        ? [s.server, s.status, formatUsd(s.beforeUsd), formatUsd(s.afterUsd), formatDelta(s.deltaUsd)]
                        : [s.server, s.status, "unpriced", "unpriced", "unpriced"],
                ),
        },
    ];
    const unpriced = unpricedResources(diff.unpricedAfter);
    if (unpriced.length > 0) sections.push(unpricedSection("Unpriced after the change (not counted)", unpriced));
    const notes = [
        ...diff.unpricedAfter.filter((u) => u.type === EXTERNAL_SERVER).map((u) => `Server ${u.name} is external, unpriced: ${u.reason}.`),
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

/** A number as short as it reads: `730`, `0.5`, `33.33`. */
function quantity(value: number): string {
    return String(Math.round(value * 10_000) / 10_000);
}

/** A unit price with the precision it was priced at, up to six decimals: `$0.018`, `$0.09`. */
function unitPrice(usd: number): string {
    return `$${String(Math.round(usd * 1_000_000) / 1_000_000)}`;
}

function tenantSections(report: TenantReport): { summary: string[]; sections: Section[]; notes: string[] } {
    const t = report.tenant;
    const kind = report.server?.kind === "external" ? ["external"] : [];
    const detail = [...kind, ...(t.serverPriced ? [] : ["unpriced"])];
    const server = t.server === undefined ? "no server" : `server ${t.server}${detail.length > 0 ? ` (${detail.join(", ")})` : ""}`;
    const summary = [
        `Tenant ${t.tenant}: plan ${t.plan ?? "unknown"} on ${server}; region ${report.region}; shared servers split by ${report.allocation}.`,
        `Monthly ${formatUsd(t.monthlyUsd)} (worst case ${formatUsd(t.worstCaseMonthlyUsd)}): ` +
            `server share ${percent(t.serverShare)} ${serverCostCell(t.serverPriced, t.serverShareUsd)} + own resources ${formatUsd(t.ownUsd)}.`,
        pricesLine(report.prices),
    ];
    const sections: Section[] = [
        {
            title: "Line items",
            head: ["Resource", "Item", "Via", "Quantity", "Unit price", "Share", "Monthly", "Worst case"],
            rows: report.lineItems.map((i) => [
                i.resourceName,
                i.item,
                i.via === "own" ? "own" : `server ${t.server ?? ""}`,
                `${quantity(i.quantity)} ${i.unit}`,
                unitPrice(i.unitPriceUsd),
                percent(i.share),
                formatUsd(i.monthlyUsd),
                formatUsd(i.worstCaseMonthlyUsd),
            ]),
        },
    ];
    const notes = report.unpriced.map((u) => `Server ${u.name} is external, unpriced: ${u.reason}.`);
    return { summary, sections, notes };
}

function tenantDiffSections(diff: TenantDiff): { summary: string[]; sections: Section[]; notes: string[] } {
    const from = (before?: string, after?: string) => (before === after ? (after ?? "-") : `${before ?? "-"} -> ${after ?? "-"}`);
    const summary = [
        `Tenant ${diff.tenant} (${diff.status}): ${formatUsd(diff.beforeUsd)} -> ${formatUsd(diff.afterUsd)}/month (${formatDelta(diff.deltaUsd)}).`,
        `Plan ${from(diff.before?.plan, diff.after?.plan)}; server ${from(diff.before?.server, diff.after?.server)}.`,
        pricesLine(diff.prices),
    ];
    const changed = diff.lineItems.filter((i) => i.status !== "unchanged").length;
    const sections: Section[] = [
        {
            title: `Line items (${changed} changed of ${diff.lineItems.length})`,
            head: ["Resource", "Item", "Change", "Before", "After", "Delta"],
            rows: diff.lineItems.map((i) => [
                i.resourceName,
                i.item,
                i.status,
                formatUsd(i.beforeUsd),
                formatUsd(i.afterUsd),
                formatDelta(i.deltaUsd),
            ]),
        },
    ];
    return { summary, sections, notes: [] };
}

/** One tenant's line items (`cost preview --tenant <id>`). */
export function renderTenantReport(report: TenantReport, format: OutputFormat): string {
    if (format === "json") return toJson(report);
    const parts = tenantSections(report);
    return format === "markdown" ? renderMarkdown(`Cost preview of tenant ${report.tenant.tenant}`, parts) : renderTable(parts);
}

/** One tenant's line items before and after (`cost diff --tenant <id>`). */
export function renderTenantDiff(diff: TenantDiff, format: OutputFormat): string {
    if (format === "json") return toJson(diff);
    const parts = tenantDiffSections(diff);
    return format === "markdown" ? renderMarkdown(`Cost diff of tenant ${diff.tenant}`, parts) : renderTable(parts);
}
