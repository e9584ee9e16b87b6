/**
 * Mocha global fixture: one throwaway PostgreSQL server for the whole test run.
 * Test files reach it through `testServer()` (test/support/server.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalServer, startLocalServer } from "../../src/local/embedded-server";

let server: LocalServer | undefined;
let root: string | undefined;

export async function mochaGlobalSetup(): Promise<void> {
    root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-test-"));
    server = await startLocalServer({ dataDir: path.join(root, "pgdata"), settings: { max_connections: 400 } });
    process.env.TENANTDB_TEST_SERVER = JSON.stringify({
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
    });
}

export async function mochaGlobalTeardown(): Promise<void> {
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
}
