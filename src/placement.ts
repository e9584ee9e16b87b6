/**
 * Which server each tenant lives on.
 *
 * A tenant's server is part of its identity: a database cannot move between servers without
 * being copied, so a placement that changed because someone added another tenant or server
 * would orphan the old database and create an empty new one. The rule is therefore:
 * - an enterprise tenant lives on its own dedicated server, named from its id alone;
 * - a standard tenant lives on the server written in its config, and a missing `server` is an
 *   error that names the server to write (chooseServer). The CLI (`npm run tenants -- add`)
 *   and the portal's provisioning call write it for you.
 * Nothing here depends on list order or on other tenants, so no edit can move a tenant.
 */

export type Plan = "standard" | "enterprise";

export interface PlacementTenant {
    readonly id: string;
    readonly plan: Plan;
    readonly server?: string;
}

export interface SharedServer {
    readonly name: string;
    readonly capacity: number;
}

export interface PlacementProblem {
    /** Index of the tenant in tenantdb:tenants. */
    readonly index: number;
    readonly message: string;
}

/** The name of an enterprise tenant's dedicated server. Reserved: shared servers may not use `ent-`. */
export function dedicatedServerName(tenantId: string): string {
    return `ent-${tenantId.replace(/_/g, "-")}`;
}

export const DEDICATED_SERVER_PREFIX = "ent-";

/**
 * The least-loaded shared server that still has room (ties broken by name), counting only
 * tenants whose server is recorded. Used to suggest, and by the CLI and portal to record, the
 * server of a new standard tenant. Undefined when every server is full.
 */
export function chooseServer(tenants: readonly PlacementTenant[], servers: readonly SharedServer[]): string | undefined {
    const load = new Map(servers.map((server) => [server.name, 0]));
    for (const tenant of tenants) {
        if (tenant.plan === "standard" && tenant.server !== undefined && load.has(tenant.server)) {
            load.set(tenant.server, load.get(tenant.server)! + 1);
        }
    }
    const candidates = servers
        .filter((server) => load.get(server.name)! < server.capacity)
        .sort((a, b) => load.get(a.name)! / a.capacity - load.get(b.name)! / b.capacity || a.name.localeCompare(b.name));
    return candidates[0]?.name;
}

/** Resolves every tenant's server, or explains for each tenant that has none what to write. */
export function resolvePlacement(
    tenants: readonly PlacementTenant[],
    servers: readonly SharedServer[],
): { placement: Map<string, string>; problems: PlacementProblem[] } {
    const placement = new Map<string, string>();
    const problems: PlacementProblem[] = [];
    const serverNames = new Set(servers.map((server) => server.name));
    const declared = servers.map((server) => server.name).join(", ") || "(none)";

    tenants.forEach((tenant, index) => {
        if (tenant.plan === "enterprise") {
            const dedicated = dedicatedServerName(tenant.id);
            if (tenant.server === undefined || tenant.server === dedicated) placement.set(tenant.id, dedicated);
            else
                problems.push({
                    index,
                    message: `enterprise tenants get a dedicated server; remove server: ${tenant.server} or set it to ${dedicated}. Moving a tenant between servers is an explicit migration (back up, provision, restore), never a config edit.`,
                });
            return;
        }
        if (tenant.server === undefined) {
            const suggestion = chooseServer(tenants, servers);
            problems.push({
                index,
                message: suggestion
                    ? `not set. A tenant's server is recorded in config so that no later edit can move its database; add server: ${suggestion} (the least-loaded shared server with room), or run npm run tenants -- add ${tenant.id}`
                    : `not set, and no shared server has room (declared: ${declared}); add a server to tenantdb:servers or raise a server's capacity`,
            });
            return;
        }
        if (!serverNames.has(tenant.server)) {
            problems.push({ index, message: `unknown server "${tenant.server}"; declared servers: ${declared}` });
            return;
        }
        placement.set(tenant.id, tenant.server);
    });
    return { placement, problems };
}
