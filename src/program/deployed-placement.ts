/**
 * The guard against moving a tenant by editing config.
 *
 * A tenant's database lives on one server. Changing its `server` (or its plan, which changes its
 * server to or from a dedicated one) would point every resource of the tenant at another
 * provider: the engine plans to replace the database, and stops only because it is protected,
 * with a message that suggests removing the protection. So before it declares anything, the
 * program reads where the stack's tenants are deployed (the stack's own last outputs, through
 * the engine's built-in `readStackOutputs`) and refuses the edit with the procedure to follow.
 *
 * A tenant whose resources were released from the state on purpose (step 3 of the move in the
 * README) is no longer there: the outputs still name its old server until the next `up`, so a
 * mismatch is confirmed against the state's resources before it is refused.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigProblem } from "../config/errors";
import { StackModel } from "../config/model";

/** The built-in provider's functions (pulumi/pulumi pkg/resource/deploy/builtins.go). */
export const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";
export const READ_STACK_RESOURCE_OUTPUTS = "pulumi:pulumi:readStackResourceOutputs";

/** The URN suffix of a tenant's database resource: in the state while the tenant is on a server. */
export function tenantDatabaseUrnSuffix(componentName: string): string {
    return `::tenantdb:index:TenantDatabase$postgresql:index/database:Database::${componentName}-database`;
}

/** Tenant id -> the server its resources are deployed on. */
export type DeployedPlacement = ReadonlyMap<string, string>;

/** What the guard needs from the engine; tests pass their own. */
export interface DeployedStackReader {
    /** The stack's last outputs (`{}` for a stack never deployed). */
    outputs(): Promise<Record<string, unknown>>;
    /** The URNs of the resources in the stack's state. */
    resourceUrns(): Promise<string[]>;
}

/** This stack, through the engine (`organization/project/stack`, as stack references name it). */
export function engineStackReader(): DeployedStackReader {
    const name = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    return {
        async outputs() {
            const result = (await pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name })) as { outputs?: Record<string, unknown> };
            return result?.outputs ?? {};
        },
        async resourceUrns() {
            const result = (await pulumi.runtime.invoke(READ_STACK_RESOURCE_OUTPUTS, { stackName: name })) as {
                outputs?: Record<string, unknown>;
            };
            return Object.keys(result?.outputs ?? {});
        },
    };
}

/** The `tenants` output's servers. Entries without one (never written by this program) are skipped. */
export function placementFromOutputs(outputs: Record<string, unknown>): DeployedPlacement {
    const placement = new Map<string, string>();
    const tenants = outputs.tenants;
    if (tenants === null || typeof tenants !== "object") return placement;
    for (const [id, tenant] of Object.entries(tenants as Record<string, unknown>)) {
        const server = (tenant as { server?: unknown } | null)?.server;
        if (typeof server === "string") placement.set(id, server);
    }
    return placement;
}

/** Tenants whose config names another server than the one they are deployed on, with the config index. */
export function serverMoves(model: StackModel, deployed: DeployedPlacement): { index: number; id: string; from: string; to: string }[] {
    const moves: { index: number; id: string; from: string; to: string }[] = [];
    model.tenants.forEach((tenant, index) => {
        const from = deployed.get(tenant.id);
        if (tenant.state !== "erased" && from !== undefined && from !== tenant.server)
            moves.push({ index, id: tenant.id, from, to: tenant.server });
    });
    return moves;
}

/** The refusal of one move: what would happen, how to undo the edit, and the procedure. */
export function serverMoveProblem(move: { index: number; id: string; from: string; to: string }): ConfigProblem {
    return {
        path: `tenantdb:tenants[${move.index}].server`,
        message:
            `tenant ${move.id} is deployed on server "${move.from}"; this config puts it on "${move.to}", which would replace its database ` +
            `with an empty one. Undo the edit (server: ${move.from}, and its plan if that changed too). A tenant changes servers ` +
            `only by the move procedure: suspend, back up, release it from the state, deploy it on the new server, restore ` +
            `(README.md, "Moving a tenant to another server").`,
    };
}

/**
 * The problems of every server move in `model`, one per moved tenant. A tenant whose database is
 * no longer in the state (released by the move procedure, src/control/release.ts) is not a move.
 */
export async function serverMoveProblems(model: StackModel, reader: DeployedStackReader): Promise<ConfigProblem[]> {
    const moves = serverMoves(model, placementFromOutputs(await reader.outputs()));
    if (moves.length === 0) return [];
    const urns = await reader.resourceUrns();
    const inState = (id: string) => {
        const suffix = tenantDatabaseUrnSuffix(model.tenants.find((tenant) => tenant.id === id)!.componentName);
        return urns.some((urn) => urn.endsWith(suffix));
    };
    return moves.filter((move) => inState(move.id)).map(serverMoveProblem);
}
