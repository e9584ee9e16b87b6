/**
 * Releasing a tenant from a stack's state: the step of a server move that lets the program
 * declare the tenant on another server (src/program/deployed-placement.ts refuses the config edit
 * while the tenant is in the state).
 *
 * Its TenantDatabase component and every resource under it leave the state; nothing is run
 * against any server, so the database, roles and data stay where they are. `pulumi state delete
 * --target-dependents` cannot do this: the next tenant's database on the same server depends on
 * this one's (the program orders one database step per server at a time), so it would release
 * that tenant too. Here only the tenant's own resources go, and the others' references to them
 * (dependsOn, property dependencies, deletedWith) are dropped.
 */

/** A resource in an exported deployment (`pulumi stack export`), as far as release reads it. */
export interface StateResource {
    readonly urn: string;
    readonly type: string;
    readonly parent?: string;
    readonly dependencies?: string[];
    readonly propertyDependencies?: Record<string, string[]>;
    readonly deletedWith?: string;
    readonly [field: string]: unknown;
}

/** An exported deployment (`(await stack.exportStack()).deployment`). */
export interface StateDeployment {
    readonly resources?: StateResource[];
    readonly pending_operations?: unknown[];
    readonly [field: string]: unknown;
}

export const TENANT_COMPONENT_TYPE = "tenantdb:index:TenantDatabase";

export class ReleaseError extends Error {
    override name = "ReleaseError";
}

/**
 * The deployment without the tenant whose component is named `componentName`, and the URNs
 * released. Refuses a deployment with pending operations (an interrupted update: its resources
 * may be half-created) and a tenant that is not in the state.
 */
export function releaseTenantResources(
    deployment: StateDeployment,
    componentName: string,
): { deployment: StateDeployment; released: string[] } {
    if ((deployment.pending_operations ?? []).length > 0) {
        throw new ReleaseError(
            "the stack has pending operations from an interrupted update; run `pulumi refresh` (or `pulumi cancel`) until it has none, then release",
        );
    }
    const resources = deployment.resources ?? [];
    const component = resources.find((r) => r.type === TENANT_COMPONENT_TYPE && r.urn.endsWith(`::${componentName}`));
    if (!component) throw new ReleaseError(`${componentName} is not in the stack's state: nothing to release`);

    const released = new Set([component.urn]);
    // Children are listed after their parents, but a second pass costs nothing and assumes nothing.
    for (let grew = true; grew;) {
        grew = false;
        for (const resource of resources) {
            if (resource.parent && released.has(resource.parent) && !released.has(resource.urn)) {
                released.add(resource.urn);
                grew = true;
            }
        }
    }
    const kept = resources.filter((resource) => !released.has(resource.urn)).map((resource) => withoutReferences(resource, released));
    return { deployment: { ...deployment, resources: kept }, released: [...released] };
}

function withoutReferences(resource: StateResource, released: ReadonlySet<string>): StateResource {
    const keep = (urn: string) => !released.has(urn);
    const copy: Record<string, unknown> = { ...resource };
    if (resource.dependencies) copy.dependencies = resource.dependencies.filter(keep);
    if (resource.propertyDependencies) {
        copy.propertyDependencies = Object.fromEntries(
            Object.entries(resource.propertyDependencies).map(([property, urns]) => [property, urns.filter(keep)]),
        );
    }
    if (resource.deletedWith && released.has(resource.deletedWith)) delete copy.deletedWith;
    return copy as StateResource;
}
