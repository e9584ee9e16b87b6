/**
 * Tenant databases for tests, made by the harness from what the Pulumi program declares: a stack
 * config with one external server (the given admin connection) is evaluated offline and applied
 * with applyDeclaredResources. Replaces the hand-written tenant-fixture.ts (same TenantFixture).
 */
import { Client, escapeIdentifier as id } from "pg";
import { AdminConnection, ApplySummary, applyDeclaredResources } from "../../src/local/apply-declared";
import { tenantNames, TenantNames } from "../../src/naming";
import { evaluateProgramOffline, OfflineEvaluation, StackConfigValues } from "../../src/program/offline";

export interface TenantFixture {
    readonly tenantId: string;
    readonly names: TenantNames;
    readonly passwords: { readonly app: string; readonly readonly: string; readonly migrator: string };
}

/** A tenant as the stack config has it (src/config/schema.ts); only `id` is required. */
export interface DeclaredTenant {
    readonly id: string;
    readonly connectionLimit?: number;
    readonly statementTimeoutMs?: number;
    readonly extensions?: readonly string[];
}

export interface DeclaredTenantsOptions {
    /** Applied to every tenant that does not set its own. Defaults to the program's (50). */
    readonly connectionLimit?: number;
    /** Databases applied at once. Defaults to 4. */
    readonly parallel?: number;
}

/** The server's name in the generated stack config. */
export const SERVER = "local";

/** Anything with a host, port, user and password (pg's ClientConfig, testServer(), adminConfig()). */
export interface AdminLike {
    readonly host?: string;
    readonly port?: number;
    readonly user?: string;
    readonly password?: string | (() => string | Promise<string>);
}

function adminConnection(admin: AdminLike): AdminConnection {
    const { host, port, user, password } = admin;
    if (typeof host !== "string" || typeof port !== "number" || typeof user !== "string" || typeof password !== "string") {
        throw new Error("declared tenants need the admin connection's host, port, user and password (a string)");
    }
    return { host, port, user, password };
}

/** The stack config of a stack whose one external server is `admin`, holding `tenants`. */
export function declaredTenantsConfig(
    admin: AdminLike,
    tenants: readonly (string | DeclaredTenant)[],
    options: DeclaredTenantsOptions = {},
): StackConfigValues {
    const server = adminConnection(admin);
    const declared = tenants.map((tenant) => {
        const { id: tenantId, ...rest } = typeof tenant === "string" ? { id: tenant } : tenant;
        const connectionLimit = rest.connectionLimit ?? options.connectionLimit;
        return { id: tenantId, server: SERVER, ...rest, ...(connectionLimit === undefined ? {} : { connectionLimit }) };
    });
    const demand = declared.reduce((sum, tenant) => sum + (tenant.connectionLimit ?? 50), 0);
    return {
        "tenantdb:servers": {
            [SERVER]: {
                kind: "external",
                host: server.host,
                port: server.port,
                adminUser: server.user,
                superuser: true,
                sslmode: "disable",
                locale: "C.UTF-8",
                // Declared for the config's capacity checks only: enough for these tenants' limits.
                maxConnections: Math.max(100, Math.ceil(demand * 1.2) + 10),
                capacity: Math.min(1000, Math.max(50, declared.length)),
            },
        },
        "tenantdb:tenants": declared,
        "tenantdb:backup": { buckets: false },
        "tenantdb:serverPasswords": { [SERVER]: server.password },
    };
}

let queue: Promise<unknown> = Promise.resolve();
/** Evaluates the program for `config`, one evaluation at a time (the Pulumi runtime is process-global). */
export function evaluateSerially(config: StackConfigValues): Promise<OfflineEvaluation> {
    const evaluation = queue.then(() => evaluateProgramOffline(config, { stack: "test" }));
    queue = evaluation.catch(() => undefined);
    return evaluation;
}

/** The fixture of each tenant, with the passwords the evaluation generated. */
export function fixturesOf(evaluation: OfflineEvaluation, tenantIds: readonly string[]): TenantFixture[] {
    return tenantIds.map((tenantId) => {
        const secrets = evaluation.outputs.tenantSecrets[tenantId];
        if (!secrets) throw new Error(`the evaluation declares no tenant ${tenantId}`);
        return {
            tenantId,
            names: tenantNames(tenantId),
            passwords: { app: secrets.appPassword, readonly: secrets.readonlyPassword, migrator: secrets.migratorPassword },
        };
    });
}

/** What applying a set of declared tenants gave: the evaluation (to apply again), the summary and the fixtures. */
export interface DeclaredTenants {
    readonly evaluation: OfflineEvaluation;
    readonly summary: ApplySummary;
    readonly fixtures: TenantFixture[];
}

/** Evaluates the program for these tenants and applies it to the server. */
export async function applyDeclaredTenants(
    admin: AdminLike,
    tenants: readonly (string | DeclaredTenant)[],
    options: DeclaredTenantsOptions = {},
): Promise<DeclaredTenants> {
    const evaluation = await evaluateSerially(declaredTenantsConfig(admin, tenants, options));
    const summary = await applyDeclaredResources(evaluation, adminConnection(admin), { server: SERVER, parallel: options.parallel ?? 4 });
    return {
        evaluation,
        summary,
        fixtures: fixturesOf(
            evaluation,
            tenants.map((tenant) => (typeof tenant === "string" ? tenant : tenant.id)),
        ),
    };
}

/** Drop-in for migration-targets' createTenants: the tenants' fixtures, in the order given. */
export async function createDeclaredTenants(
    admin: AdminLike,
    tenants: readonly (string | DeclaredTenant)[],
    options: DeclaredTenantsOptions = {},
): Promise<TenantFixture[]> {
    return (await applyDeclaredTenants(admin, tenants, options)).fixtures;
}

/** Drop-in for tenant-fixture's createTenantDatabase(admin, tenantId, { connectionLimit }). */
export async function createDeclaredTenant(
    admin: AdminLike,
    tenantId: string,
    options: { connectionLimit?: number } = {},
): Promise<TenantFixture> {
    const [fixture] = await createDeclaredTenants(admin, [tenantId], options);
    return fixture;
}

/** Drops a tenant's database and roles (test clean-up only; the program never drops). */
export async function dropDeclaredTenant(admin: AdminLike, tenantId: string): Promise<void> {
    const names = tenantNames(tenantId);
    const server = new Client({ ...adminConnection(admin), database: "postgres" });
    await server.connect();
    try {
        await server.query(`DROP DATABASE IF EXISTS ${id(names.database)} WITH (FORCE)`);
        for (const role of [names.appRole, names.readonlyRole, names.migratorRole, names.ownerRole])
            await server.query(`DROP ROLE IF EXISTS ${id(role)}`);
    } finally {
        await server.end();
    }
}
