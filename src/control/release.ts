/**
 * Releasing a tenant from a stack's state: the step of a server move that lets the program
 * declare the tenant on another server (src/program/deployed-placement.ts refuses the config edit
 * while the tenant is in the state).
 *
 * The tenant's resources on its server (every `postgresql:` resource under its TenantDatabase
 * component: database, roles, grants, schemas, extensions) leave the state; nothing is run against
 * any server, so the database, roles and data stay where they are. What is not on the server
 * stays: the component, the role passwords (so the roles on the new server get the same ones, and
 * only the host in the connection strings changes) and the backup bucket with its key and every
 * backup in it. `pulumi state delete --target-dependents` cannot do this: the next tenant's
 * database on the same server depends on this one's (the program orders one database step per
 * server at a time), so it would release that tenant too. The others' references to what is
 * released (dependsOn, property dependencies, deletedWith) are dropped.
 */

import { tenantDatabaseUrnSuffix } from "../program/deployed-placement";

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

/** The types that live on a tenant's server, and so leave the state with it. */
const ON_THE_SERVER = "postgresql:";

export class ReleaseError extends Error {
    override name = "ReleaseError";
}

/**
 * The deployment without the server resources of the tenant whose component is named
 * `componentName`, and the URNs released. Refuses a deployment with pending operations (an
 * interrupted update: its resources may be half-created) and a tenant with no database in the state.
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
    if (!component || !resources.some((r) => r.urn.endsWith(tenantDatabaseUrnSuffix(componentName)))) {
        throw new ReleaseError(`${componentName} has no database in the stack's state: nothing to release`);
    }
    // Everything under the component (children are listed after their parents, but a second pass
    // costs nothing and assumes nothing), then of that, what lives on the server.
    const under = new Set([component.urn]);
    for (let grew = true; grew;) {
        grew = false;
        for (const resource of resources) {
            if (resource.parent && under.has(resource.parent) && !under.has(resource.urn)) {
                under.add(resource.urn);
                grew = true;
            }
        }
    }
    const released = new Set(resources.filter((r) => under.has(r.urn) && r.type.startsWith(ON_THE_SERVER)).map((r) => r.urn));
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
