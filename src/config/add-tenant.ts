/**
 * Adding a tenant to a stack's config, the same way from every entry point (a config-file
 * edit, the portal's provisioning): its server is chosen once (placement.chooseServer) and
 * written down, and the whole resulting config is validated before anything is written.
 */
import { chooseServer } from "../placement";
import { ConfigError } from "./errors";
import { ConfigSource, loadStackModel } from "./load";
import { StackModel } from "./model";
import { DEFAULT_CAPACITY } from "./schema";
import { NewTenant } from "./sources/tenant-request";

export interface AddedTenant {
    /** The entry as it is written in `tenantdb:tenants`: defaults left out, the server recorded. */
    readonly entry: Record<string, unknown>;
    /** The whole new tenant list. */
    readonly tenants: unknown[];
    /** The server the tenant lives on. */
    readonly server: string;
    /** The validated model with the tenant added. */
    readonly model: StackModel;
}

/**
 * The tenant list of `source` with `tenant` appended. Throws (ConfigError for config problems)
 * without side effects.
 */
export function addTenant(source: ConfigSource, tenant: NewTenant): AddedTenant {
    const { raw, origin } = source;
    if (raw.tenants !== undefined && raw.tenants !== null && !Array.isArray(raw.tenants)) {
        throw new Error(`${origin}: tenantdb:tenants is not a list; fix it by hand before adding tenants (nothing was written)`);
    }
    const tenants = (raw.tenants ?? []) as (NewTenant & { state?: string })[];
    const servers = (raw.servers ?? {}) as Record<string, { capacity?: number }>;
    const plan = tenant.plan ?? "standard";
    const server =
        tenant.server ??
        (plan === "standard"
            ? chooseServer(
                  tenants.filter((t) => t.state !== "erased").map((t) => ({ id: t.id, plan: t.plan ?? "standard", server: t.server })),
                  Object.entries(servers).map(([name, s]) => ({ name, capacity: s.capacity ?? DEFAULT_CAPACITY })),
              )
            : undefined);
    const entry: Record<string, unknown> = { id: tenant.id };
    if (plan !== "standard") entry.plan = plan;
    if (server !== undefined) entry.server = server;
    if (tenant.connectionLimit !== undefined) entry.connectionLimit = tenant.connectionLimit;
    const model = loadStackModel({ ...source, raw: { ...raw, tenants: [...tenants, entry] } });
    // The cell's bound is checked when a tenant is added, never against a deployed stack.
    const inCell = model.tenants.filter((t) => t.state !== "erased").length;
    if (inCell > model.cell.capacity) {
        throw new ConfigError([
            {
                path: "tenantdb:cell.capacity",
                message: `${origin} already holds ${inCell - 1} tenants, its capacity as a cell; add the tenant to another cell (README, Cells), or raise the capacity after measuring with npm run bench:engine`,
            },
        ]);
    }
    return { entry, tenants: [...tenants, entry], server: model.tenants.find((t) => t.id === tenant.id)!.server, model };
}
