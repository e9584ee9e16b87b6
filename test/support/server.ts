import { Client, ClientConfig } from "pg";

/** Admin connection of the test run's PostgreSQL server (started by global-postgres.ts). */
export interface TestServer {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
}

export function testServer(): TestServer {
    const raw = process.env.TENANTDB_TEST_SERVER;
    if (!raw)
        throw new Error("TENANTDB_TEST_SERVER is not set: run the tests through `npm test` (mocha loads test/support/global-postgres.ts).");
    return JSON.parse(raw);
}

/** Runs `body` on a connection to `database` (with any role's config), then closes it. */
export async function withClient<T>(config: ClientConfig, database: string, body: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ ...config, database });
    await client.connect();
    try {
        return await body(client);
    } finally {
        await client.end();
    }
}
