/**
 * What one service serves: one project folder and either one stack or a fleet of cells. URLs are
 * tenant-centric, so the portal never names a stack: a tenant's stack is found by reading the
 * stack files (a tenant's cell is the file it is written in, and nothing moves it).
 */
import { ChangePreview, ClientOptions, FleetClient, ProposedChange, ProvisionResult, TenantdbClient, cellsOf } from "../control";
import { StackFileEdit } from "../control/stack-file";
import { stackFilePath } from "../config/sources/stack-file";
import type { StackModel } from "../config/model";
import type { SeedInput } from "../migrate/types";

export type Scope = { readonly stack: string } | { readonly fleet: string };

export class ServeTarget {
    /** One client per process: concurrent provisions of a stack share one engine update. */
    readonly client: TenantdbClient;
    private readonly fleetClient?: FleetClient;

    constructor(
        readonly scope: Scope,
        readonly options: ClientOptions,
    ) {
        this.client = new TenantdbClient(options);
        if ("fleet" in scope) this.fleetClient = new FleetClient(options);
    }

    get workDir(): string {
        return this.options.workDir;
    }

    /** True when the stacks are a fleet's cells. */
    get isFleet(): boolean {
        return "fleet" in this.scope;
    }

    /** The stacks served, in order. */
    stacks(): string[] {
        return "fleet" in this.scope ? cellsOf(this.workDir, this.scope.fleet) : [this.scope.stack];
    }

    /** Each stack's file, read now. */
    models(): { stack: string; model: StackModel }[] {
        return this.stacks().map((stack) => ({ stack, model: new StackFileEdit(stackFilePath(stack, this.workDir)).model() }));
    }

    /** The stack whose file holds this tenant, if any. */
    locate(tenantId: string): string | undefined {
        return this.models().find(({ model }) => model.tenants.some((t) => t.id === tenantId))?.stack;
    }

    /** Provisions in the stack, or in the fleet's cell that has (or gets) the tenant. */
    async provision(request: unknown, seed: SeedInput | undefined, signal?: AbortSignal): Promise<ProvisionResult & { stack: string }> {
        if ("fleet" in this.scope) {
            const result = await this.fleetClient!.provision(this.scope.fleet, request, { seed, signal });
            return { ...result, stack: result.cell };
        }
        const result = await this.client.provision(this.scope.stack, request, { seed, signal });
        return { ...result, stack: this.scope.stack };
    }

    /** What a change would do, in the stack (or cell) it would happen in. Reads only. */
    previewChange(change: ProposedChange, signal?: AbortSignal): Promise<ChangePreview> {
        if ("fleet" in this.scope) return this.fleetClient!.previewChange(this.scope.fleet, change, { signal });
        return this.client.previewChange(this.scope.stack, change, { signal });
    }
}
