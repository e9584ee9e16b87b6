/**
 * The tenants a fleet run reaches, with their connection details: from Pulumi stack outputs,
 * or from a plain YAML/JSON file for use without Pulumi. Parsed and validated once, here.
 */
import type { DeployedOutputs } from "../program/outputs";
import { readFileSync } from "node:fs";
import { parseYamlQuietly } from "../shared/yaml";
import { z } from "zod";
import { TENANT_STATES } from "../config/schema";
import { assertTenantId } from "../config/tenant-id";
import type { TenantConnection } from "../connections/manager";
import { tenantNames } from "../naming";
import type { SeedInput } from "./types";

/** One tenant database the runner migrates; `user` and `password` are the tenant's migrator role's. */
export interface TenantTarget extends TenantConnection {
    readonly tenantId: string;
    /** Logical server name (placement), for per-server concurrency and reports. */
    readonly server: string;
    /** Connections the runner may use on this server (its budget); bounds per-server concurrency. */
    readonly maxConnections?: number;
    /** The tenant's owner role, which the runner `SET ROLE`s to. Defaults to the naming contract. */
    readonly ownerRole?: string;
}

/** Tenant ids become identifiers (`erp_<id>_owner`...): the stack config's rules, from one place. */
export const validateTenantId = assertTenantId;

const SSLMODES = ["disable", "require", "verify-ca", "verify-full"] as const;
const text = (what: string) => z.string({ error: `must be ${what}` }).min(1, { error: `must be ${what}` });
const port = z
    .number({ error: "must be a port number from 1 to 65535" })
    .int({ error: "must be a port number from 1 to 65535" })
    .min(1, { error: "must be a port number from 1 to 65535" })
    .max(65535, { error: "must be a port number from 1 to 65535" });
const sslmode = z.enum(SSLMODES, { error: `must be one of ${SSLMODES.join(", ")} (as in stack config)` });
const serverSchema = z
    .object(
        {
            host: text("a host name or address"),
            port: port.default(5432),
            sslmode: sslmode.optional(),
            /** The old TLS field: read only to refuse it, naming sslmode. */
            ssl: z.unknown().optional(),
            maxConnections: z
                .number({ error: "must be a whole number of at least 1" })
                .int({ error: "must be a whole number of at least 1" })
                .min(1, { error: "must be a whole number of at least 1" })
                .optional(),
        },
        { error: "must be an object { host, port, sslmode, maxConnections }" },
    )
    .strict();
const seedSchema = z.object(
    {
        companyName: text("a non-empty string (the tenant's first company)"),
        adminEmail: text("a non-empty string (the ERP admin's email)"),
        adminPassword: z.unknown().optional(),
        adminPasswordEnv: text("the name of an environment variable").optional(),
        baseCurrency: text("an ISO 4217 code such as EUR").optional(),
    },
    { error: "must be an object { companyName, adminEmail, adminPasswordEnv }" },
);
const tenantSchema = z
    .object(
        {
            id: text("a tenant id such as acme_corp"),
            server: text("the name of a server under servers"),
            host: text("a host name or address").optional(),
            port: port.optional(),
            database: text("a database name").optional(),
            user: text("a role name").optional(),
            password: z.unknown().optional(),
            passwordEnv: text("the name of an environment variable").optional(),
            seed: seedSchema.strict().optional(),
        },
        { error: "must be an object { id, server, passwordEnv }" },
    )
    .strict();
/** The file's outline; each server and tenant is then checked on its own, so every problem is found in one round. */
const fileSchema = z
    .object(
        {
            servers: z.record(z.string(), z.unknown(), { error: "must be a map of server name to { host, port, sslmode }" }).default({}),
            tenants: z
                .array(z.unknown(), { error: "must be a list of tenants ({ id, server, passwordEnv })" })
                .min(1, { error: "must list at least one tenant" }),
        },
        { error: "must be an object with servers and tenants" },
    )
    .strict();

const KNOWN_FIELDS: Record<string, string> = {
    servers: "host, port, sslmode, maxConnections",
    tenants: "id, server, host, port, database, user, passwordEnv, seed",
    seed: "companyName, adminEmail, adminPasswordEnv, baseCurrency",
    root: "servers, tenants",
};

/** A problem in a targets file: where (e.g. `tenants[0].passwordEnv`) and what to do. */
export interface TargetsProblem {
    readonly path: string;
    readonly message: string;
}

const pathOf = (parts: readonly PropertyKey[]) =>
    parts.reduce<string>(
        (out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)),
        "",
    ) || "(root)";

function schemaProblems(error: z.ZodError, under: readonly PropertyKey[] = []): TargetsProblem[] {
    return error.issues.flatMap((found): TargetsProblem[] => {
        const issue = { ...found, path: [...under, ...found.path] };
        if (issue.code === "unrecognized_keys") {
            const kind = issue.path.includes("seed")
                ? "seed"
                : issue.path[0] === "tenants"
                  ? "tenants"
                  : issue.path[0] === "servers"
                    ? "servers"
                    : "root";
            return issue.keys.map((key) => ({
                path: pathOf([...issue.path, key]),
                message: `is not a known field (known: ${KNOWN_FIELDS[kind]}); check its spelling against the targets file in README.md`,
            }));
        }
        return [{ path: pathOf(issue.path), message: issue.message }];
    });
}

/** Thrown with every problem of a targets file at once. */
export class TargetsFileError extends Error {
    constructor(
        origin: string,
        readonly problems: readonly TargetsProblem[],
    ) {
        super(
            `targets file ${origin} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}`,
        );
        this.name = "TargetsFileError";
    }
}

/** A loaded targets file: the tenants, and provisioning input for those that have it. */
export interface TargetsFile {
    readonly targets: TenantTarget[];
    readonly seed: Record<string, SeedInput>;
}

function fromEnvironment(what: string, name: string, env: NodeJS.ProcessEnv): string {
    const value = env[name];
    if (!value) throw new Error(`${what}: environment variable ${name} is not set`);
    return value;
}

/**
 * Parses a targets file's content (YAML or JSON):
 * ```yaml
 * servers:
 *   pg-eu-1: { host: db1.internal, port: 5432, maxConnections: 20, sslmode: verify-full }
 * tenants:
 *   - id: acme
 *     server: pg-eu-1
 *     passwordEnv: ACME_MIGRATOR_PASSWORD     # never password: (refused: a file is no place for it)
 *     seed: { companyName: Acme Ltd, adminEmail: admin@acme.test, adminPasswordEnv: ACME_ADMIN_PASSWORD }
 * ```
 * database and user default to the naming contract (`erp_<id>`, `erp_<id>_migrator`). sslmode is
 * stack config's: without it, TLS is required except on the loopback interface. Every problem is
 * reported at once (TargetsFileError), each with its path and the fix.
 */
export function parseTargets(text: string, origin: string, env: NodeJS.ProcessEnv = process.env): TargetsFile {
    let raw: unknown;
    try {
        raw = parseYamlQuietly(text, `targets file ${origin}`);
    } catch (error) {
        throw new Error((error as Error).message, { cause: error });
    }
    const outline = fileSchema.safeParse(raw);
    if (!outline.success) throw new TargetsFileError(origin, schemaProblems(outline.error));
    const problems: TargetsProblem[] = [];
    const servers: Record<string, z.output<typeof serverSchema>> = {};
    for (const [name, value] of Object.entries(outline.data.servers)) {
        const server = serverSchema.safeParse(value);
        if (server.success) servers[name] = server.data;
        else problems.push(...schemaProblems(server.error, ["servers", name]));
    }
    const tenants: [number, z.output<typeof tenantSchema>][] = [];
    outline.data.tenants.forEach((value, index) => {
        const tenant = tenantSchema.safeParse(value);
        if (tenant.success) tenants.push([index, tenant.data]);
        else problems.push(...schemaProblems(tenant.error, ["tenants", index]));
    });
    for (const [name, server] of Object.entries(servers)) {
        if (server.ssl !== undefined)
            problems.push({
                path: `servers.${name}.ssl`,
                message:
                    "is replaced by sslmode, the stack config's TLS setting: write sslmode: require (TLS), verify-full (TLS, checking the certificate against PGSSLROOTCERT) or disable, and remove ssl",
            });
    }
    const targets: TenantTarget[] = [];
    const seed: Record<string, SeedInput> = {};
    const seen = new Set<string>();
    for (const [index, tenant] of tenants) {
        const at = (field?: string) => `tenants[${index}]${field ? `.${field}` : ""}`;
        const problem = (field: string | undefined, message: string) =>
            problems.push({ path: at(field), message: `tenant ${tenant.id}: ${message}` });
        try {
            validateTenantId(tenant.id);
        } catch (error) {
            problems.push({ path: at("id"), message: (error as Error).message });
            continue;
        }
        if (seen.has(tenant.id)) problem("id", "is listed twice; remove one of them");
        seen.add(tenant.id);
        const server = servers[tenant.server];
        const host = tenant.host ?? server?.host;
        // A server with problems of its own is reported above, not again as missing.
        if (!host && !(tenant.server in outline.data.servers))
            problem(
                "server",
                `server "${tenant.server}" is not in servers and the tenant has no host; add it under servers (known: ${Object.keys(outline.data.servers).join(", ") || "none"})`,
            );
        let password: string | undefined;
        if (tenant.password !== undefined)
            problem("password", plainPassword("password", "passwordEnv", `${tenant.id.toUpperCase()}_MIGRATOR_PASSWORD`));
        else if (!tenant.passwordEnv)
            problem("passwordEnv", "no migrator password: set passwordEnv to the name of an environment variable holding it");
        else {
            password = env[tenant.passwordEnv];
            if (!password)
                problem(
                    "passwordEnv",
                    `environment variable ${tenant.passwordEnv} is not set; export it with the migrator role's password`,
                );
        }
        let tenantSeed: SeedInput | undefined;
        if (tenant.seed) {
            const { adminPasswordEnv, adminPassword, ...rest } = tenant.seed;
            if (adminPassword !== undefined)
                problem(
                    "seed.adminPassword",
                    plainPassword("adminPassword", "adminPasswordEnv", `${tenant.id.toUpperCase()}_ADMIN_PASSWORD`),
                );
            else if (!adminPasswordEnv)
                problem("seed.adminPasswordEnv", "is missing: name an environment variable holding the ERP admin's password");
            else if (!env[adminPasswordEnv])
                problem(
                    "seed.adminPasswordEnv",
                    `environment variable ${adminPasswordEnv} is not set; export it with the ERP admin's password`,
                );
            else tenantSeed = { ...rest, adminPassword: env[adminPasswordEnv]! };
        }
        if (!host || !password) continue;
        const names = tenantNames(tenant.id);
        targets.push({
            tenantId: tenant.id,
            server: tenant.server,
            host,
            port: tenant.port ?? server?.port ?? 5432,
            database: tenant.database ?? names.database,
            user: tenant.user ?? names.migratorRole,
            password,
            ssl: sslForMode(server?.sslmode, host),
            maxConnections: server?.maxConnections,
        });
        if (tenantSeed) seed[tenant.id] = tenantSeed;
    }
    if (problems.length) throw new TargetsFileError(origin, problems);
    return { targets, seed };
}

/**
 * A password written into a targets or seeds file sits in clear in a file that gets copied,
 * attached and committed: refused, naming the field that reads it from the environment.
 */
function plainPassword(field: string, envField: string, example: string): string {
    return `${field} is plain text in the file, but it must be a secret: remove it, put the password in an environment variable and name that variable in ${envField} (e.g. ${envField}: ${example})`;
}

function resolveSeed(where: string, tenantId: string, input: z.output<typeof seedSchema>, env: NodeJS.ProcessEnv): SeedInput {
    const { adminPasswordEnv, adminPassword, ...rest } = input;
    if (adminPassword !== undefined)
        throw new Error(
            `${where}, seed: ${plainPassword("adminPassword", "adminPasswordEnv", `${tenantId.toUpperCase()}_ADMIN_PASSWORD`)}`,
        );
    const admin = adminPasswordEnv ? fromEnvironment(`${where}, seed`, adminPasswordEnv, env) : undefined;
    if (!admin)
        throw new Error(`${where}: seed needs adminPasswordEnv (the name of an environment variable holding the ERP admin's password)`);
    return { ...rest, adminPassword: admin };
}

/**
 * Provisioning input for tenants migrated from stack outputs (which carry none): a YAML/JSON
 * map of tenant id to `{ companyName, adminEmail, adminPasswordEnv }`. Only new tenants need it
 * (the first-company migration runs once per tenant).
 */
export function loadSeedsFile(file: string, env: NodeJS.ProcessEnv = process.env): Record<string, SeedInput> {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (error) {
        // eslint-disable-next-line preserve-caught-error
        throw new Error(`cannot read seeds file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    // Lines and columns, never the line's text: it may hold a password.
    const raw = parseYamlQuietly(text, `seeds file ${file}`);
    const parsed = z.record(z.string(), seedSchema.strict()).safeParse(raw);
    if (!parsed.success) {
        throw new Error(
            `seeds file ${file} is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ")}`,
        );
    }
    const seeds: Record<string, SeedInput> = {};
    for (const [tenantId, input] of Object.entries(parsed.data)) {
        validateTenantId(tenantId);
        seeds[tenantId] = resolveSeed(`seeds file ${file}, tenant ${tenantId}`, tenantId, input, env);
    }
    return seeds;
}

export function loadTargetsFile(file: string, env: NodeJS.ProcessEnv = process.env): TargetsFile {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (error) {
        throw new Error(`cannot read targets file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
            cause: error,
        });
    }
    return parseTargets(text, file, env);
}

/**
 * node-postgres TLS settings for a libpq sslmode. Without one (older outputs), TLS is required
 * except on the loopback interface: RDS servers force TLS, and credentials must not cross a
 * network in clear. verify-ca/verify-full check the server against the CA bundle in
 * PGSSLROOTCERT (e.g. the RDS global bundle) or the system's.
 */
export function sslForMode(sslmode: string | undefined, host: string): boolean | object {
    const mode = sslmode ?? (host === "127.0.0.1" || host === "localhost" || host === "::1" ? "disable" : "require");
    switch (mode) {
        case "disable":
            return false;
        case "require":
            return { rejectUnauthorized: false };
        case "verify-ca":
        case "verify-full": {
            const ca = process.env.PGSSLROOTCERT ? readFileSync(process.env.PGSSLROOTCERT, "utf8") : undefined;
            return {
                rejectUnauthorized: true,
                ...(ca ? { ca } : {}),
                ...(mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
            };
        }
        default:
            throw new Error(`sslmode "${mode}" is not supported; use disable, require, verify-ca or verify-full`);
    }
}

const nonEmpty = z.string({ error: "must be a non-empty string" }).min(1, { error: "must be a non-empty string" });
const outputTenantSchema = z.looseObject(
    {
        database: nonEmpty,
        server: nonEmpty,
        host: nonEmpty,
        port: z
            .number({ error: "must be a port number from 1 to 65535" })
            .int()
            .min(1)
            .max(65535, { error: "must be a port number from 1 to 65535" }),
        sslmode: z
            .enum(["disable", "require", "verify-ca", "verify-full"], { error: "must be disable, require, verify-ca or verify-full" })
            .optional(),
        plan: z.string().optional(),
        state: z.enum(TENANT_STATES, { error: `must be one of ${TENANT_STATES.join(", ")}` }).optional(),
        roles: z.looseObject(
            { owner: nonEmpty, app: nonEmpty, readonly: nonEmpty, migrator: nonEmpty },
            { error: "must be an object { owner, app, readonly, migrator }" },
        ),
    },
    { error: "must be an object (the tenant's database, server, host, port and roles)" },
);
const stackOutputsSchema = z.looseObject(
    {
        tenants: z.record(z.string(), outputTenantSchema, { error: "must be an object keyed by tenant id" }),
        tenantSecrets: z.record(
            z.string(),
            // A missing password is reported below with its own fix; its value never appears in a message.
            z.looseObject({ migratorPassword: nonEmpty.optional() }, { error: "must be an object holding migratorPassword" }),
            { error: "must be an object keyed by tenant id (export it with --show-secrets)" },
        ),
        servers: z
            .record(
                z.string(),
                z.looseObject(
                    {
                        maxConnections: z
                            .number({ error: "must be a whole number of at least 1" })
                            .int()
                            .min(1, { error: "must be a whole number of at least 1" }),
                    },
                    { error: "must be an object holding maxConnections" },
                ),
                { error: "must be an object keyed by server name" },
            )
            .optional(),
    },
    { error: "must be the JSON object of pulumi stack output --json --show-secrets" },
);

/**
 * Checks stack outputs have the shape this program exports: a null field, a null tenant or a
 * missing roles object is refused naming `tenants.<id>.<field>` and how to export them again.
 */
export function parseStackOutputs(value: unknown, origin = "stack outputs"): DeployedOutputs {
    const parsed = stackOutputsSchema.safeParse(value);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
        throw new Error(
            `${origin} are not what the program exports: ${[...new Set(problems)].join("; ")}. ` +
                "Export them again with: pulumi stack output --json --show-secrets > outputs.json (run pulumi up first if an older version of the program deployed the stack)",
        );
    }
    return parsed.data as DeployedOutputs;
}

/**
 * Targets from stack outputs (checked by parseStackOutputs); `maxConnections` per server name is
 * the runner's budget there. Suspended and retired tenants are left out: their database takes no connections.
 */
export function targetsFromStackOutputs(
    unchecked: DeployedOutputs,
    options: { maxConnections?: Record<string, number>; ssl?: boolean | object; origin?: string } = {},
): TenantTarget[] {
    const outputs = parseStackOutputs(unchecked, options.origin);
    return activeDeployedTenants(outputs).map(({ endpoint, tenant }) => ({
        ...endpoint,
        user: tenant.roles.migrator,
        ownerRole: tenant.roles.owner,
        password: deployedPassword(outputs, endpoint.tenantId, "migrator"),
        ssl: options.ssl ?? sslForMode(tenant.sslmode, tenant.host),
        maxConnections: options.maxConnections?.[tenant.server],
    }));
}

/**
 * The active tenants of a deployed stack (suspended and retired ones take no connections), each
 * with its output entry and where to reach it. Their ids are validated: they become identifiers.
 */
export function activeDeployedTenants(outputs: DeployedOutputs) {
    return Object.entries(outputs.tenants)
        .filter(([, tenant]) => (tenant.state ?? "active") === "active")
        .map(([tenantId, tenant]) => {
            validateTenantId(tenantId);
            const endpoint = { tenantId, server: tenant.server, host: tenant.host, port: tenant.port, database: tenant.database };
            return { endpoint, tenant };
        });
}

/** A login role's password from the stack outputs' tenantSecrets, or the error that says how to export it. */
export function deployedPassword(outputs: DeployedOutputs, tenantId: string, role: "app" | "readonly" | "migrator"): string {
    const password = outputs.tenantSecrets?.[tenantId]?.[`${role}Password`];
    if (!password)
        throw new Error(
            `stack outputs: tenantSecrets has no ${role}Password for tenant ${tenantId}; run pulumi up so the stack exports it`,
        );
    return password;
}
