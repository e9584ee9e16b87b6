/**
 * The URNs a targeted update of one tenant needs: its component and every child, and its
 * server's resources (already deployed, so they cost no step, but a new tenant's resources
 * need their provider in the update). Computed by evaluating the program offline, which gives
 * the same URNs as the engine (test/engine/converge.test.ts compares them), so provisioning one
 * tenant never has to diff the rest of the fleet.
 */
import { ResolvedTenant } from "../config/model";
import { SECRET_PLACEHOLDER, parseStackFile } from "../config/sources/stack-file";
import { serverComponentName, tenantIdFromLogicalName } from "../naming";
import { evaluateProgramOffline, OfflineEvaluation } from "../program/offline";

/** The program evaluated offline for a stack file's text (server passwords stand in: nothing here connects). */
export async function evaluateStackFile(stackFileText: string, file: string, stackName: string): Promise<OfflineEvaluation> {
    const { config, secretKeys } = parseStackFile(stackFileText, file);
    const serverPasswords = Object.fromEntries(
        Object.keys(JSON.parse(config["tenantdb:servers"] ?? "{}") as object).map((server) => [server, SECRET_PLACEHOLDER]),
    );
    return evaluateProgramOffline(
        { ...config, "tenantdb:serverPasswords": serverPasswords },
        { stack: stackName, secretKeys: [...new Set([...secretKeys, "tenantdb:serverPasswords"])] },
    );
}

export async function tenantUrns(
    stackFileText: string,
    file: string,
    stackName: string,
    tenants: readonly ResolvedTenant[],
): Promise<string[]> {
    const evaluation = await evaluateStackFile(stackFileText, file, stackName);
    const ids = new Set(tenants.map((tenant) => tenant.id));
    const servers = new Set(tenants.map((tenant) => serverComponentName(tenant.server)));
    const ofServer = (name: string) => [...servers].some((server) => name === server || name.startsWith(`${server}-`));
    return [...evaluation.components, ...evaluation.resources]
        .filter((resource) => ids.has(tenantIdFromLogicalName(resource.name) ?? "") || ofServer(resource.name))
        .flatMap((resource) => (resource.urn ? [resource.urn] : []));
}
