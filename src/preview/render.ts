/**
 * A change preview as people read it: Markdown for a pull request comment (one marker line per
 * stack, so the workflow updates its own comment), or a table for a terminal.
 */
import { resultTable } from "../shared/terminal";
import { usd } from "./cost";
import type { ChangePreview, InfrastructureChange, MigrationChange, ResourceStep, StepOp, TenantChange } from "./types";

export const PREVIEW_FORMATS = ["markdown", "table", "json"] as const;
export type PreviewFormat = (typeof PREVIEW_FORMATS)[number];

/** The first line of every comment: the workflow finds the comment to update by it. */
export const COMMENT_MARKER = "<!-- tenantdb-preview -->";

const VERBS: Record<StepOp, string> = { create: "to create", update: "to update", replace: "to replace", delete: "to delete" };
const OPS: StepOp[] = ["create", "update", "replace", "delete"];

/** `postgresql:index/role:Role` -> `Role`. */
const typeName = (type: string) => type.slice(type.lastIndexOf(":") + 1);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const signed = (delta: number) => `${delta < 0 ? "-" : "+"}${usd(Math.abs(delta))}`;

export function infrastructureSummary(change: InfrastructureChange): string {
    const parts = OPS.filter((op) => change.counts[op] > 0).map((op) => `${change.counts[op]} ${VERBS[op]}`);
    return parts.join(", ") || "no change";
}

export function migrationSummary(change: MigrationChange): string {
    const refused = change.refused.length ? `; ${change.refused.length} refused` : "";
    switch (change.status) {
        case "new":
            return `${change.pending.length} to run (new tenant)${refused}`;
        case "pending":
            return `${change.pending.length} to run: ${change.pending.join(", ")}${refused}`;
        case "up-to-date":
            return `up to date${refused}`;
        case "not-migrated":
            return `not migrated: ${change.reason ?? "not active"}`;
        case "unknown":
            return "unknown: its database could not be read";
    }
}

export function costSummary(tenant: TenantChange): string {
    const { beforeUsd, afterUsd, deltaUsd } = tenant.cost;
    return `${usd(beforeUsd)} -> ${usd(afterUsd)} (${signed(deltaUsd)})`;
}

/** Creates and deletes summed per type (a tenant is some fifty resources); other steps one line each. */
function stepLines(change: InfrastructureChange, code: (text: string) => string): string[] {
    const summed = { create: new Map<string, number>(), delete: new Map<string, number>() };
    const lines: string[] = [];
    for (const step of change.steps) {
        if (step.op === "create" || step.op === "delete") {
            const byType = summed[step.op];
            byType.set(typeName(step.type), (byType.get(typeName(step.type)) ?? 0) + 1);
        } else lines.push(stepLine(step, code));
    }
    const total = (op: "create" | "delete") =>
        [...summed[op]]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([type, n]) => `${n} ${type}`)
            .join(", ");
    const protectedDeletes = change.steps.filter((s) => s.op === "delete" && s.protected).length;
    if (summed.delete.size > 0) lines.unshift(`delete ${total("delete")}${protectedDeletes ? ` (${protectedDeletes} protected)` : ""}`);
    if (summed.create.size > 0) lines.unshift(`create ${total("create")}`);
    return lines;
}

function stepLine(step: ResourceStep, code: (text: string) => string): string {
    const properties = step.properties.length ? `: ${step.properties.join(", ")}` : "";
    return `${step.op} ${code(step.name)} (${typeName(step.type)}${step.protected ? ", protected" : ""})${properties}`;
}

function headline(preview: ChangePreview): string {
    const blockedTenants = preview.tenants.filter((t) => t.blocked.length > 0).length;
    if (!preview.blocked)
        return `**Ready.** ${plural(preview.tenants.length, "tenant")} change${preview.tenants.length === 1 ? "s" : ""}; nothing is blocked.`;
    const parts = [
        ...(blockedTenants ? [`${plural(blockedTenants, "tenant")} cannot go ahead`] : []),
        ...(preview.problems.length ? [`${plural(preview.problems.length, "stack problem")}`] : []),
        ...(preview.stackResources.steps.some((s) => s.blocked) ? ["a server resource cannot go ahead"] : []),
    ];
    return `**Blocked.** ${parts.join("; ")}: do not merge as is.`;
}

export function renderMarkdown(preview: ChangePreview): string {
    const code = (text: string) => `\`${text}\``;
    const out = [
        COMMENT_MARKER.replace("-->", `stack=${preview.stack} -->`),
        `### tenantdb preview: stack ${code(preview.stack)}`,
        "",
        headline(preview),
        "",
        `Compared with ${code(preview.base)}. Monthly cost ${usd(preview.cost.beforeUsd)} -> ${usd(preview.cost.afterUsd)} (${signed(preview.cost.deltaUsd)})${preview.cost.prices ? `, prices from ${code(preview.cost.prices)}` : ""}.`,
        "",
    ];
    if (preview.problems.length) {
        out.push("**Problems**", "", ...preview.problems.map((p) => `- ${p.replace(/\n\s*/g, " ")}`), "");
    }
    if (preview.tenants.length) {
        out.push("| tenant | infrastructure | migrations | monthly cost |", "|---|---|---|---|");
        for (const t of preview.tenants) {
            const tenant = `${code(t.tenantId)}${t.blocked.length ? " **blocked**" : ""}`;
            out.push(`| ${tenant} | ${infrastructureSummary(t.infrastructure)} | ${migrationSummary(t.migrations)} | ${costSummary(t)} |`);
        }
        out.push("");
        for (const t of preview.tenants) {
            out.push(`#### ${code(t.tenantId)}${t.state ? ` (${t.state} on ${t.server})` : " (removed)"}`);
            out.push(...t.blocked.map((b) => `- **blocked**: ${b}`));
            out.push(...stepLines(t.infrastructure, code).map((line) => `- ${line}`));
            if (t.migrations.pending.length) out.push(`- migrations to run: ${t.migrations.pending.join(", ")}`);
            out.push(`- cost: ${t.cost.reasons.join("; ") || "none"}`);
            out.push("");
        }
    }
    const serverSteps = stepLines(preview.stackResources, code);
    if (serverSteps.length) out.push("#### Servers and providers", ...serverSteps.map((line) => `- ${line}`), "");
    if (preview.unchanged.length) out.push(`Unchanged: ${preview.unchanged.map(code).join(", ")}.`, "");
    return out.join("\n").trimEnd() + "\n";
}

export function renderTable(preview: ChangePreview): string {
    const table = resultTable(["tenant", "infrastructure", "migrations", "monthly cost"]);
    for (const t of preview.tenants)
        table.push([
            `${t.tenantId}${t.blocked.length ? " (BLOCKED)" : ""}`,
            infrastructureSummary(t.infrastructure),
            migrationSummary(t.migrations),
            costSummary(t),
        ]);
    const lines = [
        `stack ${preview.stack}, compared with ${preview.base}: ${preview.blocked ? "BLOCKED" : "ready"}`,
        ...preview.problems.map((p) => `problem: ${p}`),
        ...(preview.tenants.length ? [table.toString()] : ["no tenant changes"]),
        ...preview.tenants.flatMap((t) => [
            ...t.blocked.map((b) => `${t.tenantId}: blocked: ${b}`),
            ...stepLines(t.infrastructure, (s) => s).map((line) => `${t.tenantId}: ${line}`),
            `${t.tenantId}: cost: ${t.cost.reasons.join("; ")}`,
        ]),
        ...stepLines(preview.stackResources, (s) => s).map((line) => `servers: ${line}`),
        `monthly cost ${usd(preview.cost.beforeUsd)} -> ${usd(preview.cost.afterUsd)} (${signed(preview.cost.deltaUsd)})`,
        ...(preview.unchanged.length ? [`unchanged: ${preview.unchanged.join(", ")}`] : []),
    ];
    return lines.join("\n");
}

export function renderPreview(previews: readonly ChangePreview[], format: PreviewFormat): string {
    if (format === "json") return JSON.stringify(previews.length === 1 ? previews[0] : previews, null, 2);
    return previews.map(format === "markdown" ? renderMarkdown : renderTable).join(format === "markdown" ? "\n---\n\n" : "\n\n");
}
