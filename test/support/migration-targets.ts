/** Tenant databases (applied from what the program declares) as migration runner targets, for tests and the benchmark. */
import type { ClientConfig } from "pg";
import type { TenantTarget } from "../../src/migrate/targets";
import type { SeedInput } from "../../src/migrate/types";
import { testServer } from "./server";
import { createDeclaredTenant as createTenantDatabase, TenantFixture } from "./declared-tenants";

export interface AdminServer {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
}

/** The test run's server (global-postgres.ts), with its password as a plain string. */
export function adminServer(): AdminServer {
    return testServer() as AdminServer;
}

export function targetOf(server: AdminServer, fixture: TenantFixture, serverName = "local"): TenantTarget {
    return {
        tenantId: fixture.tenantId,
        server: serverName,
        host: server.host,
        port: server.port,
        database: fixture.names.database,
        user: fixture.names.migratorRole,
        password: fixture.passwords.migrator,
    };
}

/** Creates the tenants a few at a time (CREATE DATABASE is slow), in the order given. */
export async function createTenants(server: AdminServer, tenantIds: readonly string[], parallel = 4): Promise<TenantFixture[]> {
    const fixtures: TenantFixture[] = new Array(tenantIds.length);
    let next = 0;
    const worker = async () => {
        while (next < tenantIds.length) {
            const index = next++;
            fixtures[index] = await createTenantDatabase(server as ClientConfig, tenantIds[index]);
        }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, tenantIds.length) }, worker));
    return fixtures;
}

/** Provisioning input with a per-tenant admin password. */
export function seedFor(tenantIds: readonly string[]): Record<string, SeedInput> {
    return Object.fromEntries(
        tenantIds.map((id) => [
            id,
            { companyName: `Company ${id}`, adminEmail: `admin@${id.replace(/_/g, "-")}.test`, adminPassword: `pw-${id}-correct-horse` },
        ]),
    );
}
