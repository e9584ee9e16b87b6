/**
 * Adds a tenant to a stack config file (`Pulumi.<stack>.yaml`) the way a careful engineer
 * would by hand: the server is chosen once (placement.chooseServer) and written down, comments
 * and layout are kept, and the whole config is validated before the file is written.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseDocument, YAMLSeq } from "yaml";
import { DEFAULT_CAPACITY } from "../config/schema";
import { RawStackConfig, validateStackConfig, StackModel } from "../config/validate";
import { chooseServer } from "../placement";

export interface NewTenant {
    readonly id: string;
    readonly plan?: "standard" | "enterprise";
    readonly connectionLimit?: number;
    readonly server?: string;
}

/** Reads the tenantdb config of a stack file as validateStackConfig takes it. */
export function readConfigFile(file: string): { raw: RawStackConfig; passwordNames: string[] } {
    const document = parseDocument(readFileSync(file, "utf8"));
    const config = (document.toJS()?.config ?? {}) as Record<string, unknown>;
    // Structured values may also be stored as JSON strings (older Automation API writes).
    const value = (key: string) => {
        const raw = config[`tenantdb:${key}`];
        if (typeof raw !== "string" || key === "serverPasswords") return raw;
        try {
            return JSON.parse(raw);
        } catch {
            throw new Error(`${file}: tenantdb:${key} is a string that is not JSON; write it as YAML`);
        }
    };
    const passwords = value("serverPasswords");
    return {
        raw: { servers: value("servers"), tenants: value("tenants"), backup: value("backup"), cost: value("cost"), dedicatedServer: value("dedicatedServer") },
        passwordNames: passwords && typeof passwords === "object" ? Object.keys(passwords) : [],
    };
}

/**
 * Appends `tenant` to `tenantdb:tenants` in `file`, recording its server. Throws ConfigError
 * (and leaves the file untouched) when the result would not validate. External servers'
 * passwords live in the Pulumi secrets store, not in the file, so they are not checked here.
 */
export function addTenantToConfigFile(file: string, tenant: NewTenant): { server: string; model: StackModel } {
    const text = readFileSync(file, "utf8");
    const document = parseDocument(text);
    const { raw } = readConfigFile(file);
    // The file holds no secrets: external servers' passwords live in the Pulumi secrets store.
    const { entry, tenants, server, model } = appendTenant(raw, tenant, Object.keys((raw.servers ?? {}) as object), file);

    const list = document.getIn(["config", "tenantdb:tenants"]);
    if (list instanceof YAMLSeq) list.add(document.createNode(entry));
    else document.setIn(["config", "tenantdb:tenants"], document.createNode(tenants));
    writeFileSync(file, document.toString());
    return { server, model };
}

/**
 * The tenant list with `tenant` appended: its server chosen once (placement.chooseServer) unless
 * given, and the whole config validated. Shared by config-file edits and the portal's provisioning.
 * Throws (ConfigError for config problems) without side effects.
 */
export function appendTenant(
    raw: RawStackConfig,
    tenant: NewTenant,
    serverPasswordNames: readonly string[],
    origin: string,
): { entry: Record<string, unknown>; tenants: unknown[]; server: string; model: StackModel } {
    if (raw.tenants !== undefined && raw.tenants !== null && !Array.isArray(raw.tenants)) {
        throw new Error(`${origin}: tenantdb:tenants is not a list; fix it by hand before adding tenants (nothing was written)`);
    }
    const tenants = (raw.tenants ?? []) as NewTenant[];
    const servers = (raw.servers ?? {}) as Record<string, { capacity?: number }>;
    const plan = tenant.plan ?? "standard";
    const server = tenant.server ?? (plan === "standard"
        ? chooseServer(tenants.map((t) => ({ id: t.id, plan: t.plan ?? "standard", server: t.server })),
            Object.entries(servers).map(([name, s]) => ({ name, capacity: s.capacity ?? DEFAULT_CAPACITY })))
        : undefined);
    const entry: Record<string, unknown> = { id: tenant.id };
    if (plan !== "standard") entry.plan = plan;
    if (server !== undefined) entry.server = server;
    if (tenant.connectionLimit !== undefined) entry.connectionLimit = tenant.connectionLimit;
    const model = validateStackConfig({ ...raw, tenants: [...tenants, entry] }, { serverPasswordNames });
    return { entry, tenants: [...tenants, entry], server: model.tenants.find((t) => t.id === tenant.id)!.server, model };
}
