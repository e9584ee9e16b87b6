/**
 * One preview of a change to a stack, for a pull request or a portal's "what will happen" page:
 * per tenant, the infrastructure steps of a real `pulumi preview`, the migrations the runner
 * would apply, and the monthly cost before and after (types.ts). It reads only: the engine
 * previews, the tenant databases are read as `migrate status` reads them, nothing is written.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadStackModel, withEveryServerPassword } from "../config/load";
import type { StackModel } from "../config/model";
import { parseStackFile, StackFile } from "../config/sources/stack-file";
import { deployedTargets } from "../control/deployed";
import { EngineSettings, selectStack } from "../control/engine";
import { costOfStackFile } from "../cost/stack-cost";
import type { CostReport } from "../cost/types";
import type { TenantTarget } from "../migrate/targets";
import { costChanges, costMoved } from "./cost";
import { deletesFromState, EnginePreview, noSteps, previewSteps, StateResource } from "./infrastructure";
import { previewMigrations } from "./migrations";
import type { ChangePreview, CostChange, InfrastructureChange, MigrationChange, TenantChange } from "./types";

export interface PreviewInputs {
    readonly engine: EngineSettings;
    readonly stackName: string;
    /** The stack file as the change has it, and whether that is what is on disk (else it is previewed from a copy). */
    readonly proposed: { readonly text: string; readonly onDisk: boolean };
    /** The stack file before the change (undefined: the change creates the stack), and what that is. */
    readonly base: { readonly text: string | undefined; readonly label: string };
    /** The migrations folder as the change has it. */
    readonly migrationsDir: string;
    readonly signal?: AbortSignal;
    /**
     * A tenant being retired (client.previewChange): retire lifts its protection before its
     * resources are deleted, so its protected deletes are the plan, not a block.
     */
    readonly retiring?: string;
}

const NOT_DECLARED: MigrationChange = { status: "not-migrated", pending: [], refused: [], reason: "not declared by the change" };
const NO_COST: CostChange = { beforeUsd: 0, afterUsd: 0, deltaUsd: 0, reasons: [] };

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function previewChange(inputs: PreviewInputs): Promise<ChangePreview> {
    const file = path.join(inputs.engine.workDir, `Pulumi.${inputs.stackName}.yaml`);
    const problems: string[] = [];
    const attempt = async <T>(what: string, body: () => T | Promise<T>): Promise<T | undefined> => {
        try {
            return await body();
        } catch (error) {
            problems.push(`${what}: ${message(error)}`);
            return undefined;
        }
    };

    // Each stack file parsed once: its model and its cost come from the same parse.
    const proposed = await attempt("the changed stack file", () => parseStackFile(inputs.proposed.text, file));
    const model: StackModel | undefined = proposed && (await attempt("the changed stack file", () => modelOf(proposed)));
    const base =
        inputs.base.text === undefined ? undefined : await attempt("the base stack file", () => parseStackFile(inputs.base.text!, file));
    const baseModel = base && (await attempt("the base stack file", () => modelOf(base)));
    const after = proposed && model ? await attempt("the cost after the change", () => costOfStackFile(proposed)) : undefined;
    const before = base ? await attempt("the cost before the change", () => costOfStackFile(base)) : undefined;

    const stack = await attempt("the engine", () => selectStack(inputs.engine, inputs.stackName));
    let engine: EnginePreview = { byTenant: new Map(), refusals: [], problems: [] };
    let deployed: TenantTarget[] = [];
    if (stack) {
        engine = await withConfigFile(inputs, (configFile) => previewSteps(stack, { configFile, signal: inputs.signal }));
        problems.push(...engine.problems);
        deployed = (await attempt("the deployed stack's outputs", () => deployedTargets(stack))) ?? [];
        const undeclared = [...engine.byTenant].filter(
            ([id, change]) => id !== undefined && change.counts.delete > 0 && !declares(model, id),
        );
        if (undeclared.length > 0) {
            const state = await attempt(
                "the stack's state",
                async () => (await stack.exportStack()).deployment.resources as StateResource[],
            );
            for (const [id] of undeclared) if (state) engine.byTenant.set(id, deletesFromState(state, id!));
        }
    }
    const migrations = model
        ? ((await attempt("the migrations", () =>
              previewMigrations({ directory: inputs.migrationsDir, tenants: model.tenants, deployed }),
          )) ?? new Map<string, MigrationChange>())
        : new Map<string, MigrationChange>();
    const costs = after ? costChanges(before ?? emptyReport(after), after) : new Map<string, CostChange>();

    const ids = [
        ...new Set([
            ...(model?.tenants.map((t) => t.id) ?? []),
            ...(baseModel?.tenants.map((t) => t.id) ?? []),
            ...[...engine.byTenant.keys()].filter((id): id is string => id !== undefined),
        ]),
    ];
    const tenants: TenantChange[] = [];
    const unchanged: string[] = [];
    for (const id of ids) {
        const declared = model?.tenants.find((t) => t.id === id);
        const infrastructure = engine.byTenant.get(id) ?? noSteps();
        const migration = migrations.get(id) ?? NOT_DECLARED;
        const cost = costs.get(id) ?? NO_COST;
        const removed = !declares(model, id) && infrastructure.counts.delete > 0;
        const blocked = [
            ...(removed && id !== inputs.retiring
                ? [
                      `no longer declared: pulumi up would delete its ${infrastructure.counts.delete} resources, its database and data among them; ` +
                          "they are protected, so it stops partway. Offboard a tenant with tenants suspend, then retire",
                  ]
                : []),
            ...infrastructure.steps.flatMap((step) => (step.blocked && !removed ? [step.blocked] : [])),
            // A refusal the engine reported without a step event for it.
            ...engine.refusals
                .filter((r) => r.tenantId === id && !removed && !infrastructure.steps.some((s) => s.blocked && s.name === r.name))
                .map((r) => `pulumi up refuses to replace or delete protected ${r.name}`),
            ...migration.refused.map((r) => `migration ${r.migration} would be refused: ${r.reason}`),
        ];
        const change: TenantChange = {
            tenantId: id,
            ...(declared ? { state: declared.state, server: declared.server } : {}),
            infrastructure,
            migrations: migration,
            cost,
            blocked,
        };
        if (touched(change)) tenants.push(change);
        else unchanged.push(id);
    }
    const stackResources = engine.byTenant.get(undefined) ?? noSteps();
    const stackBlocked = stackResources.steps.some((step) => step.blocked) || engine.refusals.some((r) => r.tenantId === undefined);
    return {
        stack: inputs.stackName,
        base: inputs.base.label,
        blocked: problems.length > 0 || stackBlocked || tenants.some((t) => t.blocked.length > 0),
        tenants: tenants.sort((a, b) => a.tenantId.localeCompare(b.tenantId)),
        unchanged: unchanged.sort(),
        stackResources,
        cost: {
            beforeUsd: before?.totalMonthlyUsd ?? 0,
            afterUsd: after?.totalMonthlyUsd ?? before?.totalMonthlyUsd ?? 0,
            deltaUsd: (after?.totalMonthlyUsd ?? before?.totalMonthlyUsd ?? 0) - (before?.totalMonthlyUsd ?? 0),
            prices: (after ?? before)?.prices.file ?? "",
        },
        problems,
    };
}

/** Whether the program declares this tenant (an erased tenant is no longer declared). */
function declares(model: StackModel | undefined, id: string): boolean {
    return model?.tenants.some((t) => t.id === id && t.state !== "erased") ?? false;
}

function modelOf(stackFile: StackFile): StackModel {
    return loadStackModel(withEveryServerPassword(stackFile.source));
}

function changedSteps(change: InfrastructureChange): number {
    return change.counts.create + change.counts.update + change.counts.replace + change.counts.delete;
}

function touched(change: TenantChange): boolean {
    const { migrations } = change;
    return (
        changedSteps(change.infrastructure) > 0 ||
        migrations.pending.length > 0 ||
        migrations.refused.length > 0 ||
        migrations.status === "unknown" ||
        costMoved(change.cost) ||
        change.cost.reasons.some((reason) => reason !== "no change")
    );
}

/** A report with no tenants and no servers, for a stack the change creates. */
function emptyReport(like: CostReport): CostReport {
    return { ...like, totalMonthlyUsd: 0, worstCaseMonthlyUsd: 0, servers: [], tenants: [], unpriced: [] };
}

/**
 * Runs `body` with the proposed stack file: the one on disk, or a private copy (mode 0600: it
 * holds the stack's encrypted secrets) that `pulumi preview --config-file` reads instead.
 */
async function withConfigFile<T>(inputs: PreviewInputs, body: (configFile: string | undefined) => Promise<T>): Promise<T> {
    if (inputs.proposed.onDisk) return body(undefined);
    const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-preview-"));
    try {
        const configFile = path.join(dir, `Pulumi.${inputs.stackName}.yaml`);
        writeFileSync(configFile, inputs.proposed.text, { mode: 0o600 });
        return await body(configFile);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
