/** What the control API reads back from a deployed stack: its migration targets and its login roles. */
import type * as automation from "@pulumi/pulumi/automation";
import { declaredResources, DeclaredRole } from "../local/declared-resources";
import { activeDeployedTenants, deployedPassword, parseStackOutputs, sslForMode, targetsFromStackOutputs } from "../migrate/targets";
import type { OfflineEvaluation } from "../program/offline";
import type { DeployedOutputs } from "../program/outputs";
import { declaredRoleSettings, LOGIN_ROLES, LoginRole, RoleCheckTarget } from "./role-drift";

/**
 * The stack's outputs, secrets included (read through the engine, which decrypts them). A stack
 * never deployed has none; outputs that are there but null or malformed are refused, naming the
 * field, rather than read as "no tenants".
 */
export async function deployedOutputs(stack: automation.Stack): Promise<DeployedOutputs> {
    const values = await stack.outputs();
    if (!("tenants" in values) && !("tenantSecrets" in values)) return { tenants: {}, tenantSecrets: {}, servers: {} };
    return parseStackOutputs(
        { tenants: values.tenants?.value, tenantSecrets: values.tenantSecrets?.value, servers: values.servers?.value ?? {} },
        `stack ${stack.name} outputs`,
    );
}

/** Migration targets of a deployed stack, with each server's connection budget. */
export async function deployedTargets(stack: automation.Stack) {
    const outputs = await deployedOutputs(stack);
    const maxConnections = Object.fromEntries(Object.entries(outputs.servers ?? {}).map(([name, server]) => [name, server.maxConnections]));
    return targetsFromStackOutputs(outputs, { maxConnections });
}

/**
 * The login roles of every active tenant of a deployed stack, to check for drift: where to
 * reach them and their passwords from the outputs, their own settings from what the program
 * declares (`evaluation`, the stack file evaluated offline: what the next `up` applies).
 */
export function roleCheckTargets(outputs: DeployedOutputs, evaluation: OfflineEvaluation): RoleCheckTarget[] {
    const declaredOn = new Map<string, DeclaredRole[]>();
    const declaredRole = (server: string, name: string, tenantId: string): DeclaredRole => {
        if (!declaredOn.has(server)) declaredOn.set(server, declaredResources(evaluation, server).role);
        const role = declaredOn.get(server)!.find((r) => r.name === name);
        if (!role)
            throw new Error(
                `tenant ${tenantId} is deployed on server ${server}, but the stack file declares no role ${name} there; deploy the stack file first`,
            );
        return role;
    };
    return activeDeployedTenants(outputs).map(({ endpoint, tenant }) => {
        const role = (kind: LoginRole) => {
            const name = tenant.roles[kind];
            return {
                name,
                password: deployedPassword(outputs, endpoint.tenantId, kind),
                settings: declaredRoleSettings(declaredRole(tenant.server, name, endpoint.tenantId)),
            };
        };
        return {
            ...endpoint,
            ssl: sslForMode(tenant.sslmode, tenant.host),
            roles: Object.fromEntries(LOGIN_ROLES.map((kind) => [kind, role(kind)])) as Record<LoginRole, ReturnType<typeof role>>,
        };
    });
}
