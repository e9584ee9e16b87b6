/**
 * The migrations part of a change preview: per tenant, the migrations the runner would apply
 * after the deploy, and the ones it would refuse. Deployed tenants are read as `migrate status`
 * reads them (their migrations table, with the deployed migrator login); a tenant the change
 * adds gets every migration.
 */
import * as path from "node:path";
import type { ResolvedTenant } from "../config/model";
import { loadCatalogReport, RefusedFile } from "../migrate/catalog";
import { runFleet } from "../migrate/fleet";
import type { Drift } from "../migrate/plan";
import type { TenantTarget } from "../migrate/targets";
import type { MigrationChange, RefusedMigration } from "./types";

export interface MigrationInputs {
    /** The migrations folder as the change has it. */
    readonly directory: string;
    /** Tenants as the proposed stack file declares them. */
    readonly tenants: readonly Pick<ResolvedTenant, "id" | "state">[];
    /** Where each active deployed tenant is reached, from the stack's outputs. */
    readonly deployed: readonly TenantTarget[];
    readonly connectionTimeoutMs?: number;
}

function refusalOf(file: RefusedFile, directory: string): RefusedMigration {
    return { migration: file.name, reason: `${path.relative(directory, file.file) || file.file}: ${file.error.problem}` };
}

function driftRefusal(drift: Drift): RefusedMigration {
    return drift.kind === "changed"
        ? {
              migration: drift.name,
              reason:
                  "checksum drift: the file changed after it was applied, so the runner refuses this tenant. " +
                  "Fix: restore the file as applied and put the change in a new migration",
          }
        : {
              migration: drift.name,
              reason: "applied but its file is gone, so the runner refuses this tenant. Fix: restore the file",
          };
}

/** Per tenant id of `inputs.tenants`, what the runner would do with it after the change. */
export async function previewMigrations(inputs: MigrationInputs): Promise<Map<string, MigrationChange>> {
    const { catalog, refused } = loadCatalogReport(inputs.directory);
    const fileRefusals = refused.map((file) => refusalOf(file, inputs.directory));
    const allNames = [...catalog.migrations.map((m) => m.name), ...refused.map((file) => file.name)].sort();
    const active = inputs.tenants.filter((tenant) => tenant.state === "active");
    const deployedIds = new Set(inputs.deployed.map((target) => target.tenantId));
    const targets = inputs.deployed.filter((target) => active.some((tenant) => tenant.id === target.tenantId));
    const report = targets.length
        ? await runFleet(targets, { mode: "status", catalog, connectionTimeoutMs: inputs.connectionTimeoutMs })
        : undefined;

    const changes = new Map<string, MigrationChange>();
    for (const tenant of inputs.tenants) {
        if (tenant.state !== "active") {
            changes.set(tenant.id, {
                status: "not-migrated",
                pending: [],
                refused: [],
                reason: `${tenant.state}: the runner migrates active tenants only`,
            });
            continue;
        }
        if (!deployedIds.has(tenant.id)) {
            changes.set(tenant.id, { status: "new", version: null, pending: allNames, refused: fileRefusals });
            continue;
        }
        const result = report!.tenants.find((t) => t.tenantId === tenant.id)!;
        if (result.outcome === "failed") {
            changes.set(tenant.id, {
                status: "unknown",
                pending: [],
                refused: [],
                reason: result.error ?? "its database could not be read",
            });
            continue;
        }
        // A refused file is not in the catalog the status ran with: an applied one reads as missing locally.
        const refusedNames = new Set(refused.map((file) => file.name));
        const drift = result.drift.filter((d) => !(d.kind === "missing-locally" && refusedNames.has(d.name)));
        const appliedRefused = new Set(result.drift.filter((d) => refusedNames.has(d.name)).map((d) => d.name));
        const pending = [...result.pending, ...refused.map((file) => file.name).filter((name) => !appliedRefused.has(name))].sort();
        const refusals = [
            ...drift.map(driftRefusal),
            ...fileRefusals.filter((r) => pending.includes(r.migration) || appliedRefused.has(r.migration)),
        ];
        changes.set(tenant.id, {
            status: pending.length > 0 ? "pending" : "up-to-date",
            version: result.from,
            pending,
            refused: refusals,
        });
    }
    return changes;
}
