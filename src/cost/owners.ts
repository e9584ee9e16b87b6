/**
 * Who pays for each resource: the tenant or server whose component it sits in, found by walking
 * up its parents to a `tenantdb:index:TenantDatabase` (the tenant, from the component's logical
 * name) or a `tenantdb:index:RdsServer` (the server, from `server-<name>`). A resource under
 * neither is the fleet's: in the program, only an external server's `postgresql.Provider`
 * (`server-<name>-postgresql`, at the root), which costs nothing.
 */
import { serverComponentName, tenantIdFromLogicalName } from "../naming";
import { TYPES, nameFromUrn, typeFromUrn } from "./graph";
import { Owner, PlannedResource } from "./types";

const FLEET: Owner = { kind: "fleet" };
const SERVER_COMPONENT_PREFIX = serverComponentName("");

/** Inverse of serverComponentName. (A candidate for src/naming.ts, beside the builder.) */
export function serverNameFromComponentName(name: string): string | undefined {
    const server = name.startsWith(SERVER_COMPONENT_PREFIX) ? name.slice(SERVER_COMPONENT_PREFIX.length) : "";
    return server === "" ? undefined : server;
}

/** The owner a component stands for, or undefined for any other resource. */
function componentOwner(type: string, name: string): Owner | undefined {
    if (type === TYPES.tenantDatabase) {
        const tenant = tenantIdFromLogicalName(name);
        return tenant ? { kind: "tenant", tenant } : undefined;
    }
    if (type === TYPES.rdsServer) {
        const server = serverNameFromComponentName(name);
        return server ? { kind: "server", server } : undefined;
    }
    return undefined;
}

/**
 * The owner of every resource of `graph`. A parent is read from its URN (its type and name),
 * so a component missing from the graph still owns its direct children; walking further up
 * needs the component's own entry, for its parent.
 */
export function ownersOf(graph: readonly PlannedResource[]): (resource: PlannedResource) => Owner {
    const parentOf = new Map<string, string | undefined>();
    for (const resource of graph) if (resource.urn) parentOf.set(resource.urn, resource.parent);
    const byUrn = new Map<string, Owner>();
    const ownerOfUrn = (urn: string | undefined): Owner => {
        if (!urn) return FLEET;
        const known = byUrn.get(urn);
        if (known) return known;
        byUrn.set(urn, FLEET); // a graph whose parents loop ends the walk instead of recursing forever
        const owner = componentOwner(typeFromUrn(urn), nameFromUrn(urn)) ?? ownerOfUrn(parentOf.get(urn));
        byUrn.set(urn, owner);
        return owner;
    };
    return (resource) => componentOwner(resource.type, resource.name) ?? ownerOfUrn(resource.parent);
}
