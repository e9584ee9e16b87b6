/**
 * `--dry-run --print-sql`: the SQL each tenant's pending work would execute, from the same catalog
 * the run uses, grouped so that tenants with the same work show it once.
 */
import * as path from "node:path";
import type { Catalog } from "./catalog";
import type { FleetReport } from "./fleet";

export type PlannedStep =
    | { readonly name: string; readonly direction: "up" | "down"; readonly kind: "sql"; readonly file: string; readonly sql: string }
    | {
          readonly name: string;
          readonly direction: "up" | "down";
          readonly kind: "code";
          readonly file: string;
          readonly description: string;
      };

export interface PlannedSql {
    /** Tenants whose pending work is exactly `steps`. */
    readonly tenants: readonly string[];
    readonly steps: readonly PlannedStep[];
}

/** The SQL of each tenant's planned migrations (report.tenants[].planned), one group per distinct list. */
export function plannedSql(report: FleetReport, catalog: Catalog): PlannedSql[] {
    const byName = new Map(catalog.migrations.map((m) => [m.name, m]));
    const direction = report.mode === "down" ? "down" : "up";
    const groups = new Map<string, { tenants: string[]; steps: PlannedStep[] }>();
    for (const tenant of report.tenants) {
        const names = tenant.planned ?? [];
        if (names.length === 0) continue;
        const key = names.join("\n");
        const group = groups.get(key);
        if (group) {
            group.tenants.push(tenant.tenantId);
            continue;
        }
        const steps = names.map((name): PlannedStep => {
            const migration = byName.get(name)!;
            const file = path.relative(process.cwd(), migration.file) || migration.file;
            if (migration.code)
                return {
                    name,
                    direction,
                    kind: "code",
                    file,
                    description: `TypeScript migration (code): its statements are decided when it runs, so there is no SQL to show; read ${file}`,
                };
            const sql = (direction === "down" ? migration.downSql : migration.upSql) ?? "";
            return { name, direction, kind: "sql", file, sql: sql.trim() };
        });
        groups.set(key, { tenants: [tenant.tenantId], steps });
    }
    return [...groups.values()];
}

/** The groups as text: a header per group naming its tenants, then each migration's SQL. */
export function formatPlannedSql(groups: readonly PlannedSql[]): string {
    if (groups.length === 0) return "-- nothing to execute: no tenant has pending work\n";
    return groups
        .map((group) => {
            const steps = group.steps.map((step) =>
                step.kind === "sql"
                    ? `-- ${step.name} (${step.direction}, ${step.file})\n${step.sql}\n`
                    : `-- ${step.name} (${step.direction}, ${step.file})\n-- ${step.description}\n`,
            );
            return `-- tenants: ${group.tenants.join(", ")}\n\n${steps.join("\n")}`;
        })
        .join("\n");
}
