/**
 * The control API: what the self-service portal, CI and the `tenants` CLI call to change a
 * stack's tenants. Every operation holds the stack's lease (lease.ts) from reading the stack
 * file to the end of its update, so concurrent calls, a call during a CI deploy and a CLI
 * config edit are serialized: no tenant is lost, no two updates start, the file is never
 * half-written. Requests are validated with the stack config's own schema.
 *
 * Failures are typed (errors.ts). Progress arrives as structured events; an AbortSignal stops
 * waiting and cancels a running update.
 */
import { readFileSync } from "node:fs";
import { addTenant } from "../config/add-tenant";
import { ResolvedTenant, StackModel } from "../config/model";
import { TenantState } from "../config/schema";
import { NewTenant, parseNewTenant } from "../config/sources/tenant-request";
import { FleetReport, fleetFailed, runFleet } from "../migrate/fleet";
import { SeedInput } from "../migrate/types";
import { stackFilePath } from "../config/sources/stack-file";
import { selectStack, update } from "./engine";
import { ConflictError, InvalidRequestError, MigrationFailedError, asInvalidRequest } from "./errors";
import { withStackLease } from "./lease";
import { deployedOutputs, deployedTargets, roleCheckTargets } from "./deployed";
import { checkRoleDrift, RoleCheckOptions } from "./role-drift";
import { LifecycleOperation, checkRetirement, nextState } from "./lifecycle";
import { StackFileEdit } from "./stack-file";
import { releaseTenantResources } from "./release";
import { placementFromOutputs, tenantDatabaseUrnSuffix } from "../program/deployed-placement";
import { Pending, ProvisionQueue } from "./provision-batch";
import { DEFAULT_MIGRATIONS_DIR } from "../migrate/catalog";
import { previewChange } from "../preview/change-preview";
import type { ChangePreview, ProposedChange } from "../preview/types";
import { evaluateStackFile, tenantUrns } from "./targets";
import type {
    CallOptions,
    ClientOptions,
    ControlEvent,
    LifecycleResult,
    LiveStatus,
    MoveResult,
    ProvisionResult,
    TenantDetail,
    TenantStatus,
} from "./types";
import type * as automation from "@pulumi/pulumi/automation";

const DEFAULT_WAIT_MS = 600_000;

export class TenantdbClient {
    private readonly provisioning = new Map<string, ProvisionQueue<ProvisionResult>>();

    constructor(private readonly options: ClientOptions) {}

    /** The stack's tenants as its stack file declares them. Reads only; takes no lease. */
    status(stackName: string): { stack: string; tenants: TenantStatus[] } {
        const model = new StackFileEdit(this.stackFile(stackName)).model();
        return {
            stack: stackName,
            tenants: model.tenants.map((tenant) => ({
                id: tenant.id,
                plan: tenant.plan,
                server: tenant.server,
                state: tenant.state,
                since: tenant.history.at(-1)?.at,
            })),
        };
    }

    /** One tenant as the stack file declares it: plan, server, state, history, limits. Reads only. */
    show(stackName: string, tenantId: string): TenantDetail {
        const model = new StackFileEdit(this.stackFile(stackName)).model();
        const tenant = model.tenants.find((t) => t.id === tenantId);
        if (!tenant)
            throw new InvalidRequestError(
                "tenantId",
                `no tenant ${JSON.stringify(tenantId)} in stack ${stackName}; its tenants: ${model.tenants.map((t) => t.id).join(", ") || "none"}`,
            );
        return {
            stack: stackName,
            id: tenant.id,
            plan: tenant.plan,
            server: tenant.server,
            serverKind: model.servers.get(tenant.server)?.kind ?? "unknown",
            state: tenant.state,
            since: tenant.history.at(-1)?.at,
            database: tenant.names.database,
            connectionLimit: tenant.connectionLimit,
            extensions: tenant.extensions,
            backupRetentionDays: tenant.backupRetentionDays,
            history: tenant.history,
        };
    }

    /**
     * status, plus a live check of every active tenant's login roles on its server: each logs in
     * with the password the deployed stack declares, and its own settings are compared with what
     * the stack file declares (role-drift.ts). Reads only; takes no lease. Needs the engine (the
     * outputs' secrets) and a connection to each server; never an admin login.
     */
    async liveStatus(stackName: string, options: RoleCheckOptions = {}): Promise<LiveStatus> {
        const status = this.status(stackName);
        const edit = new StackFileEdit(this.stackFile(stackName));
        const evaluation = await evaluateStackFile(edit.document.toString(), edit.file, stackName);
        const stack = await selectStack(this.options, stackName);
        const targets = roleCheckTargets(await deployedOutputs(stack), evaluation);
        return { ...status, roles: await checkRoleDrift(targets, options) };
    }

    /**
     * The portal's "new tenant": records it (and its server) in the stack file, deploys its
     * resources with a targeted update, then migrates and seeds it. The same request again
     * returns the same tenant with `created: false`; the same id with other settings or in
     * another state is a ConflictError. Concurrent calls in one process share one update
     * (provision-batch.ts); `signal` withdraws a call only while it waits for its turn.
     */
    provision(stackName: string, request: unknown, options: CallOptions & { seed?: SeedInput } = {}): Promise<ProvisionResult> {
        let tenant: NewTenant;
        try {
            tenant = asInvalidRequest(() => parseNewTenant(request));
        } catch (error) {
            return Promise.reject(error);
        }
        let queue = this.provisioning.get(stackName);
        if (!queue) {
            queue = new ProvisionQueue((take) => this.provisionBatch(stackName, take));
            this.provisioning.set(stackName, queue);
        }
        return queue.submit({ tenant, seed: options.seed, signal: options.signal });
    }

    private provisionBatch(stackName: string, take: () => Pending<ProvisionResult>[]): Promise<void> {
        return this.leased(stackName, "provision", {}, async (signal) => {
            const batch = take();
            const edit = new StackFileEdit(this.stackFile(stackName));
            const accepted: { pending: Pending<ProvisionResult>; created: boolean }[] = [];
            for (const pending of batch) {
                const { tenant } = pending.request;
                try {
                    accepted.push({ pending, created: this.addToEdit(edit, tenant, stackName) });
                } catch (error) {
                    pending.reject(error);
                }
            }
            if (accepted.length === 0) return;
            const model = accepted.some((a) => a.created) ? edit.commit() : edit.model();
            for (const { pending, created } of accepted) {
                if (created) this.emit({ kind: "config-written", stack: stackName, tenantId: pending.request.tenant.id });
            }

            const ids = [...new Set(accepted.map((a) => a.pending.request.tenant.id))];
            const tenants = ids.map((id) => model.tenants.find((t) => t.id === id)!);
            const stack = await this.updateTenants(stackName, edit, tenants, signal);
            const seed = Object.fromEntries(
                accepted.flatMap(({ pending: { request } }) => (request.seed ? [[request.tenant.id, request.seed]] : [])),
            );
            const migrations = await runFleet(await deployedTargets(stack), { mode: "up", only: ids, seed });
            this.emit({ kind: "migrated", stack: stackName, report: migrations });
            for (const { pending, created } of accepted) {
                const id = pending.request.tenant.id;
                const result = migrations.tenants.find((t) => t.tenantId === id);
                if (!result || result.outcome === "failed") pending.reject(new MigrationFailedError(stackName, migrations, [id]));
                else pending.resolve({ tenantId: id, server: tenants.find((t) => t.id === id)!.server, created, migrations });
            }
        });
    }

    /** Adds a requested tenant to the edit; false when the stack already has exactly this tenant. */
    private addToEdit(edit: StackFileEdit, tenant: NewTenant, stackName: string): boolean {
        const existing = edit.model().tenants.find((t) => t.id === tenant.id);
        if (existing) {
            const same =
                (tenant.plan ?? "standard") === existing.plan &&
                (tenant.server === undefined || tenant.server === existing.server) &&
                (tenant.connectionLimit === undefined || tenant.connectionLimit === existing.connectionLimit) &&
                existing.state === "active";
            if (!same) {
                throw new ConflictError(
                    `tenant ${tenant.id} already exists in stack ${stackName} with other settings or state (${existing.state}); nothing was changed`,
                );
            }
            return false;
        }
        edit.appendTenant(asInvalidRequest(() => addTenant(edit.source(), tenant)).entry);
        return true;
    }

    /**
     * Records a tenant (and its server) in the stack file without deploying it: the GitOps path,
     * where the file is committed and CI deploys. Holds the lease, so it cannot race a portal call.
     */
    add(stackName: string, request: unknown, options: CallOptions = {}): Promise<{ tenantId: string; server: string; created: boolean }> {
        return this.leased(stackName, "add", options, async () => {
            const tenant = asInvalidRequest(() => parseNewTenant(request));
            const edit = new StackFileEdit(this.stackFile(stackName));
            const created = this.addToEdit(edit, tenant, stackName);
            const model = created ? edit.commit() : edit.model();
            if (created) this.emit({ kind: "config-written", stack: stackName, tenantId: tenant.id });
            return { tenantId: tenant.id, server: model.tenants.find((t) => t.id === tenant.id)!.server, created };
        });
    }

    /** Suspends a tenant after a verified final backup: logins off, connection limit 0, everything kept. */
    suspend(stackName: string, tenantId: string, options: CallOptions & { reason?: string } = {}): Promise<LifecycleResult> {
        return this.transition(stackName, tenantId, "suspend", options);
    }

    /** Undoes a suspension. */
    resume(stackName: string, tenantId: string, options: CallOptions & { reason?: string } = {}): Promise<LifecycleResult> {
        return this.transition(stackName, tenantId, "resume", options);
    }

    /**
     * Retires a suspended tenant once its backups have served their retention (or with
     * `overrideRetention` set to its id): the program lifts its protection, then stops declaring
     * it, so its database and roles are deleted and its KMS key is scheduled for deletion.
     */
    async retire(
        stackName: string,
        tenantId: string,
        options: CallOptions & { reason?: string; overrideRetention?: string } = {},
    ): Promise<LifecycleResult> {
        const retired = await this.transition(stackName, tenantId, "retire", options);
        if (retired.state === "erased") return retired;
        return this.transition(stackName, tenantId, "retire", options);
    }

    /**
     * Moves a suspended tenant to another server (README, "Moving a tenant to another server").
     * The stack file records the new server; the tenant's server resources are released from the
     * state (release.ts), so its database, roles and data stay on the old server untouched; a
     * targeted update creates the tenant on the new one, suspended and empty, with the same
     * passwords and backup bucket, for its final backup to be restored into. Interrupted before
     * the release, the stack is refused by the program (its config names a server the tenant is
     * not on); after it, the next update creates the tenant on the new server. Either way the same
     * call again finishes the move.
     */
    async move(stackName: string, tenantId: string, options: CallOptions & { to: string }): Promise<MoveResult> {
        return this.leased(stackName, `move ${tenantId}`, options, async (signal) => {
            const edit = new StackFileEdit(this.stackFile(stackName));
            const tenant = this.tenantOf(edit.model(), tenantId, stackName);
            if (tenant.state !== "suspended") {
                throw new InvalidRequestError(
                    "state",
                    `tenant ${tenantId} is ${tenant.state}; suspend it first (tenants suspend ${tenantId}: a verified final backup, then logins off), so that nothing is written after the backup you will restore on the new server`,
                );
            }
            if (tenant.plan === "enterprise") {
                throw new InvalidRequestError(
                    "plan",
                    `tenant ${tenantId} has a dedicated server; move enterprise tenants by hand (README, Moving a tenant)`,
                );
            }
            const stack = await selectStack(this.options, stackName);
            const outputs = Object.fromEntries(Object.entries(await stack.outputs()).map(([key, output]) => [key, output.value]));
            const deployedOn = placementFromOutputs(outputs).get(tenantId);
            if (tenant.server !== options.to) {
                edit.setServer(tenantId, options.to);
                asInvalidRequest(() => edit.commit());
                this.emit({ kind: "config-written", stack: stackName, tenantId });
            }
            let released = 0;
            if (deployedOn !== undefined && deployedOn !== options.to) {
                const exported = await stack.exportStack();
                const inState = (exported.deployment.resources ?? []).some((resource: { urn: string }) =>
                    resource.urn.endsWith(tenantDatabaseUrnSuffix(tenant.componentName)),
                );
                // Not in the state: an earlier call released it and stopped before its update.
                if (inState) {
                    const result = releaseTenantResources(exported.deployment, tenant.componentName);
                    // The lease keeps other tenantdb calls out, not a `pulumi up` run by hand: import
                    // only over the state that was exported.
                    const current = await stack.exportStack();
                    if (JSON.stringify(current.deployment) !== JSON.stringify(exported.deployment)) {
                        throw new ConflictError(
                            `stack ${stackName} changed while ${tenantId} was being released (an update outside tenantdb?); nothing was released. Retry the move.`,
                        );
                    }
                    await stack.importStack({ ...exported, deployment: result.deployment });
                    released = result.released.length;
                }
            }
            await this.updateTenants(stackName, edit, [this.tenantOf(edit.model(), tenantId, stackName)], signal);
            return { tenantId, from: deployedOn ?? tenant.server, to: options.to, released };
        });
    }

    /** `pulumi up` of the whole stack, then the migrations on every active tenant: CI's deploy. */
    async deploy(
        stackName: string,
        options: CallOptions & { seed?: Record<string, SeedInput> } = {},
    ): Promise<{ summary: automation.UpdateSummary; migrations: FleetReport }> {
        return this.leased(stackName, "deploy", options, async (signal) => {
            const stack = await selectStack(this.options, stackName);
            const result = await this.up(stack, stackName, undefined, signal);
            return { summary: result.summary, migrations: await this.migrateActive(stack, stackName, options.seed) };
        });
    }

    /** The migrations on every active tenant of the deployed stack, from its outputs. */
    async migrate(
        stackName: string,
        options: CallOptions & { seed?: Record<string, SeedInput> } = {},
    ): Promise<{ migrations: FleetReport }> {
        return this.leased(stackName, "migrate", options, async () => ({
            migrations: await this.migrateActive(await selectStack(this.options, stackName), stackName, options.seed),
        }));
    }

    /** `pulumi preview` of the whole stack: the changes per operation (create, update, delete, same). */
    async preview(stackName: string, options: CallOptions = {}): Promise<{ changes: Record<string, number> }> {
        return this.leased(stackName, "preview", options, async (signal) => {
            const stack = await selectStack(this.options, stackName);
            const result = await stack.preview({ signal, onOutput: (line) => this.emit({ kind: "engine", stack: stackName, line }) });
            return { changes: { ...result.changeSummary } };
        });
    }

    /**
     * What one control API call would do, before it is made: the portal's "what will happen" page.
     * The change is applied to a copy of the stack file (change-preview.ts previews the copy with
     * `pulumi preview --config-file`); the stack file, the state and the databases are only read,
     * and no lease is taken. Refused as the call itself would be (an unknown tenant, a state the
     * operation does not apply to) with an InvalidRequestError. A retirement is previewed as its
     * end: the tenant no longer declared, its resources deleted once its protection is lifted.
     */
    async previewChange(
        stackName: string,
        change: ProposedChange,
        options: CallOptions & { migrationsDir?: string } = {},
    ): Promise<ChangePreview> {
        const file = this.stackFile(stackName);
        const base = readFileSync(file, "utf8");
        const edit = new StackFileEdit(file);
        if (change.action === "provision") {
            this.addToEdit(
                edit,
                asInvalidRequest(() => parseNewTenant(change.tenant)),
                stackName,
            );
        } else {
            const tenant = this.tenantOf(edit.model(), change.tenantId, stackName);
            let to = nextState(tenant, change.action);
            if (to === "retired") to = "erased";
            edit.recordTransition(tenant.id, { state: to, at: this.now().toISOString(), by: this.options.actor });
        }
        asInvalidRequest(() => edit.model());
        return previewChange({
            engine: this.options,
            stackName,
            proposed: { text: edit.document.toString(), onDisk: false },
            base: { text: base, label: "current stack file" },
            migrationsDir: options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR,
            signal: options.signal,
            retiring: change.action === "retire" ? change.tenantId : undefined,
        });
    }

    /** Every active tenant of the deployed stack migrated; a MigrationFailedError if any failed. */
    private async migrateActive(stack: automation.Stack, stackName: string, seed?: Record<string, SeedInput>): Promise<FleetReport> {
        const migrations = await runFleet(await deployedTargets(stack), { mode: "up", seed });
        this.emit({ kind: "migrated", stack: stackName, report: migrations });
        if (fleetFailed(migrations)) throw new MigrationFailedError(stackName, migrations);
        return migrations;
    }

    private async transition(
        stackName: string,
        tenantId: string,
        operation: LifecycleOperation,
        options: CallOptions & { reason?: string; overrideRetention?: string },
    ): Promise<LifecycleResult> {
        return this.leased(stackName, `${operation} ${tenantId}`, options, async (signal) => {
            const edit = new StackFileEdit(this.stackFile(stackName));
            let model = edit.model();
            const tenant = this.tenantOf(model, tenantId, stackName);
            const to = this.nextOrRepeat(tenant, operation);
            let backup: string | undefined;
            // The tenant is already where this operation leads (an interrupted call): converge only.
            if (to !== tenant.state) {
                if (operation === "retire" && to === "retired") checkRetirement(tenant, this.now(), options.overrideRetention);
                if (operation === "retire" && tenant.plan === "enterprise") {
                    throw new InvalidRequestError(
                        "plan",
                        `tenant ${tenantId} has a dedicated server; retire enterprise tenants by hand (README, Tenant lifecycle)`,
                    );
                }
                if (to === "suspended") backup = await this.finalBackup(stackName, tenantId, signal);
                edit.recordTransition(tenantId, {
                    state: to,
                    at: this.now().toISOString(),
                    by: this.options.actor,
                    backup,
                    reason: options.reason,
                });
                model = edit.commit();
                this.emit({ kind: "config-written", stack: stackName, tenantId, state: to });
            }
            if (to === "erased") {
                // A full update: the next tenant's database on the server depends on this one's in the
                // state, and a targeted update may not delete what an untargeted resource depends on.
                await this.up(await selectStack(this.options, stackName), stackName, undefined, signal);
                return { tenantId, state: to, backup };
            }
            await this.updateTenants(stackName, edit, [this.tenantOf(model, tenantId, stackName)], signal);
            return { tenantId, state: to, backup };
        });
    }

    /** The state `operation` leads to; for a tenant already there (a re-run), its own state. */
    private nextOrRepeat(tenant: ResolvedTenant, operation: LifecycleOperation): TenantState {
        const arrived: Record<LifecycleOperation, TenantState[]> = { suspend: ["suspended"], resume: ["active"], retire: ["erased"] };
        if (arrived[operation].includes(tenant.state) && !(operation === "resume" && tenant.history.length === 0)) return tenant.state;
        return nextState(tenant, operation);
    }

    private async finalBackup(stackName: string, tenantId: string, signal: AbortSignal): Promise<string> {
        if (!this.options.finalBackup) {
            throw new InvalidRequestError(
                "finalBackup",
                "suspending needs a verified final backup: give the client a finalBackup (backup inventory) so it can take one",
            );
        }
        const location = await this.options.finalBackup.takeVerified(tenantId, signal);
        this.emit({ kind: "backup", stack: stackName, tenantId, location });
        return location;
    }

    /**
     * A targeted update of these tenants' resources (and their servers'), as `edit` declares them:
     * under the lease its document is what the stack file holds, committed or unchanged.
     */
    private async updateTenants(
        stackName: string,
        edit: StackFileEdit,
        tenants: readonly ResolvedTenant[],
        signal: AbortSignal,
    ): Promise<automation.Stack> {
        const targets = await tenantUrns(edit.document.toString(), edit.file, stackName, tenants);
        const stack = await selectStack(this.options, stackName);
        await this.up(stack, stackName, targets, signal);
        return stack;
    }

    private up(stack: automation.Stack, stackName: string, target: string[] | undefined, signal: AbortSignal) {
        return update(stack, {
            target,
            signal,
            lockWaitMs: this.options.lease?.waitMs ?? DEFAULT_WAIT_MS,
            onOutput: (line) => this.emit({ kind: "engine", stack: stackName, line }),
            onLocked: () => this.emit({ kind: "engine-locked", stack: stackName }),
        });
    }

    private leased<T>(stackName: string, operation: string, options: CallOptions, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
        return withStackLease(
            this.options.workDir,
            stackName,
            {
                owner: this.options.actor,
                operation,
                waitMs: this.options.lease?.waitMs ?? DEFAULT_WAIT_MS,
                staleMs: this.options.lease?.staleMs,
                signal: options.signal,
                onWait: (holder) => this.emit({ kind: "waiting", stack: stackName, holder }),
            },
            (signal) => {
                this.emit({ kind: "leased", stack: stackName, operation });
                return body(signal);
            },
        );
    }

    private tenantOf(model: StackModel, tenantId: string, stackName: string): ResolvedTenant {
        const tenant = model.tenants.find((t) => t.id === tenantId);
        if (!tenant) throw new InvalidRequestError("tenantId", `tenant ${tenantId} is not in stack ${stackName}`);
        return tenant;
    }

    private stackFile(stackName: string): string {
        return stackFilePath(stackName, this.options.workDir);
    }

    private now(): Date {
        return this.options.now?.() ?? new Date();
    }

    private emit(event: ControlEvent): void {
        this.options.onEvent?.(event);
    }
}
