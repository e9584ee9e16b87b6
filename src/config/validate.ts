/**
 * Turns a stack's raw config into the validated model the program declares resources from.
 * Every problem is collected and reported at once (ConfigError), before any resource exists.
 */
import { z } from "zod";
import { derivedIdentifiers, serverComponentName, tenantComponentName, tenantNames } from "../naming";
import { DEDICATED_SERVER_PREFIX, dedicatedServerName, resolvePlacement } from "../placement";
import { tenantConnectionBudget, adminHeadroom } from "./capacity";
import { ConfigError, ConfigProblem, configPath } from "./errors";
import { RawStackConfig, ResolvedServer, ResolvedTenant, StackModel, serverMaxConnections } from "./model";
import { ParsedStackConfig, RdsServerConfig, TenantConfig, serverSchema, stackConfigSchema } from "./schema";

export interface ValidationContext {
    /** Names present in the secret `tenantdb:serverPasswords` object (values are never read here). */
    readonly serverPasswordNames: readonly string[];
    /** Server passwords held in plain config (`*`: the whole object); each is refused. */
    readonly plainServerPasswordNames?: readonly string[];
}

/** Instance class of an enterprise tenant's server when neither tenantdb:dedicatedServer nor the tenant sets one. */
export const DEFAULT_DEDICATED_INSTANCE_CLASS = "db.t4g.medium";

const SECRET_LOOKING_KEYS = /^(admin)?pass(word)?$|secret|token/i;

function zodProblems(error: z.ZodError, prefix: PropertyKey[] = []): ConfigProblem[] {
    // A field that fails two checks with one message (-5.5: not whole, below the range) is reported once.
    const seen = new Set<string>();
    return zodIssueProblems(error, prefix).filter((problem) => {
        const key = `${problem.path}\n${problem.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}

function zodIssueProblems(error: z.ZodError, prefix: PropertyKey[]): ConfigProblem[] {
    return error.issues.flatMap((issue): ConfigProblem[] => {
        if (issue.code === "unrecognized_keys") {
            return issue.keys.map((key) => ({
                path: configPath([...prefix, ...issue.path, key]),
                message: SECRET_LOOKING_KEYS.test(key)
                    ? "secrets do not belong in plain config; remove it and run: pulumi config set --secret --path 'serverPasswords.<server>' (it prompts for the value, or reads it from stdin)"
                    : "is not a known field; check its spelling against the config reference in README.md",
            }));
        }
        if (issue.code === "invalid_key") {
            // A bad record key (a server name): report what is wrong with the key itself.
            return issue.issues.map((inner) => ({ path: configPath([...prefix, ...issue.path]), message: inner.message }));
        }
        return [{ path: configPath([...prefix, ...issue.path]), message: issue.message }];
    });
}

export function validateStackConfig(raw: RawStackConfig, context: ValidationContext): StackModel {
    const parsed = stackConfigSchema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(zodProblems(parsed.error));
    const config: ParsedStackConfig = parsed.data;
    const problems: ConfigProblem[] = [];

    // A password set without --secret sits in the stack file in clear: refuse it, naming the fix.
    for (const name of context.plainServerPasswordNames ?? []) {
        const whole = name === "*";
        problems.push({
            path: configPath(whole ? ["serverPasswords"] : ["serverPasswords", name]),
            message:
                "is plain text, but a password must be a secret: remove it from the stack file and run " +
                `pulumi config set --secret --path 'serverPasswords.${whole ? "<server>" : name}' (it prompts for the value, or reads it from stdin)`,
        });
    }

    // Servers: reserved names and the secret each external server needs.
    for (const [name, server] of Object.entries(config.servers)) {
        if (name.startsWith(DEDICATED_SERVER_PREFIX)) {
            problems.push({
                path: configPath(["servers", name]),
                message: `names starting with "${DEDICATED_SERVER_PREFIX}" are reserved for enterprise tenants' dedicated servers; rename it`,
            });
        }
        if (server.kind === "external" && !context.serverPasswordNames.includes(name)) {
            problems.push({
                path: configPath(["serverPasswords", name]),
                message: `external server "${name}" needs its admin password as a secret: pulumi config set --secret --path 'serverPasswords.${name}' (it prompts for the value, or reads it from stdin)`,
            });
        }
        if (server.kind === "rds" && server.maxAllocatedStorageGb < server.allocatedStorageGb) {
            problems.push({
                path: configPath(["servers", name, "maxAllocatedStorageGb"]),
                message: `must be at least allocatedStorageGb (${server.allocatedStorageGb})`,
            });
        }
    }

    // Tenant ids: duplicates, and derived names that collide (erp_a_app is both tenant a's app role and tenant a_app's database).
    const firstIndexOfId = new Map<string, number>();
    const ownerOfName = new Map<string, { id: string; index: number }>();
    config.tenants.forEach((tenant, index) => {
        const earlier = firstIndexOfId.get(tenant.id);
        if (earlier !== undefined) {
            problems.push({
                path: configPath(["tenants", index, "id"]),
                message: `duplicate id "${tenant.id}" (also tenants[${earlier}]); each tenant needs its own id`,
            });
            return;
        }
        firstIndexOfId.set(tenant.id, index);
        for (const name of derivedIdentifiers(tenant.id)) {
            const other = ownerOfName.get(name);
            if (other) {
                problems.push({
                    path: configPath(["tenants", index, "id"]),
                    message: `"${tenant.id}" derives the PostgreSQL name ${name}, which tenants[${other.index}] ("${other.id}") also derives; choose an id that does not end in _owner, _app, _readonly or _migrator`,
                });
            } else ownerOfName.set(name, { id: tenant.id, index });
        }
        const recorded = tenant.history.at(-1)?.state ?? "active";
        if (recorded !== tenant.state) {
            problems.push({
                path: configPath(["tenants", index, "state"]),
                message: `is ${tenant.state} but the last transition in history is ${recorded}; change a tenant's state with npm run tenants -- suspend|resume|retire (or the control API), which records who and when`,
            });
        }
        if (tenant.plan !== "enterprise" && tenant.dedicated !== undefined) {
            problems.push({
                path: configPath(["tenants", index, "dedicated"]),
                message: "only enterprise tenants have a dedicated server; remove it or set plan: enterprise",
            });
        }
    });

    // Placement.
    const sharedServers = Object.entries(config.servers).map(([name, server]) => ({ name, capacity: server.capacity }));
    const { placement, problems: placementProblems } = resolvePlacement(config.tenants, sharedServers);
    for (const problem of placementProblems)
        problems.push({ path: configPath(["tenants", problem.index, "server"]), message: problem.message });

    // Resolve servers, adding each enterprise tenant's dedicated RDS server.
    const servers = new Map<string, ResolvedServer>();
    for (const [name, server] of Object.entries(config.servers))
        servers.set(name, { ...server, name, componentName: serverComponentName(name) });
    for (const tenant of config.tenants) {
        if (tenant.plan !== "enterprise" || tenant.state === "erased") continue;
        const name = dedicatedServerName(tenant.id);
        const spec = {
            kind: "rds",
            instanceClass: DEFAULT_DEDICATED_INSTANCE_CLASS,
            ...config.dedicatedServer,
            ...tenant.dedicated,
            capacity: 1,
        };
        const server = serverSchema.safeParse(spec);
        if (!server.success) {
            problems.push(...zodProblems(server.error, ["tenants", firstIndexOfId.get(tenant.id)!, "dedicated"]));
            continue;
        }
        servers.set(name, { ...(server.data as RdsServerConfig), name, componentName: serverComponentName(name), dedicatedTo: tenant.id });
    }

    // Capacity: tenant count and the sum of connection limits per server.
    const tenantsOn = new Map<string, TenantConfig[]>();
    // An erased tenant has nothing left on its server. A suspended one keeps its place and its
    // connection limit in the budget, so that resuming it can never overfill the server.
    for (const tenant of config.tenants) {
        if (tenant.state === "erased") continue;
        const server = placement.get(tenant.id);
        if (server !== undefined) tenantsOn.set(server, [...(tenantsOn.get(server) ?? []), tenant]);
    }
    for (const [name, server] of servers) {
        const hosted = tenantsOn.get(name) ?? [];
        const serverPath = server.dedicatedTo
            ? configPath(["tenants", firstIndexOfId.get(server.dedicatedTo)!, "dedicated"])
            : configPath(["servers", name]);
        if (hosted.length > server.capacity) {
            problems.push({
                path: `${serverPath}.capacity`,
                message: `server "${name}" holds ${hosted.length} tenants but its capacity is ${server.capacity}; add a server and place new tenants there, or raise capacity`,
            });
        }
        const maxConnections = serverMaxConnections(server);
        if (maxConnections === undefined) {
            problems.push({
                path: `${serverPath}.maxConnections`,
                message: `unknown instance class "${(server as RdsServerConfig).instanceClass}"; set maxConnections for this server explicitly`,
            });
            continue;
        }
        const demand = hosted.reduce((sum, tenant) => sum + tenant.connectionLimit, 0);
        const budget = tenantConnectionBudget(maxConnections);
        if (demand > budget) {
            problems.push({
                path: `${serverPath}`,
                message: `the tenants on "${name}" may open ${demand} connections in all (sum of connectionLimit) but max_connections is ${maxConnections}, of which ${adminHeadroom(maxConnections)} stay reserved for admin and migrations (budget ${budget}); lower tenants' connectionLimit, use a larger instance class, or move new tenants to another server`,
            });
        }
    }

    if (problems.length > 0) throw new ConfigError(problems);
    const tenants: ResolvedTenant[] = config.tenants.map((tenant) => ({
        ...tenant,
        server: placement.get(tenant.id)!,
        backupRetentionDays: tenant.backupRetentionDays ?? config.backup.retentionDays,
        names: tenantNames(tenant.id),
        componentName: tenantComponentName(tenant.id),
    }));
    return { servers, tenants, backup: config.backup, cost: config.cost, cell: config.cell };
}
