/**
 * Role passwords never reach the server's log: with log_statement=all, a real `pulumi up` logs
 * every CREATE ROLE, and each carries the role's SCRAM verifier, never its password.
 */
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalServer, startLocalServer } from "../../src/local/embedded-server";
import { declaredTenantsConfig } from "../support/declared-tenants";
import { EngineProject, requireEngine, stackConfigOf } from "../support/engine";

describe("Real engine: no role password in the server log", function () {
    this.timeout(300_000);
    let root: string;
    let server: LocalServer | undefined;
    let project: EngineProject | undefined;
    const log: string[] = [];

    before(async function () {
        const engine = requireEngine(this);
        root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-server-log-"));
        server = await startLocalServer({
            dataDir: path.join(root, "pgdata"),
            settings: { log_statement: "all" },
            onServerLog: (message) => log.push(message),
        });
        project = EngineProject.create(engine);
    });

    after(async () => {
        project?.remove();
        await server?.stop();
        if (root) rmSync(root, { recursive: true, force: true });
    });

    it("logs each CREATE ROLE with a SCRAM verifier and no password of any role", async () => {
        const stack = await project!.stack("dev", stackConfigOf(declaredTenantsConfig(server!, [{ id: "logged", connectionLimit: 20 }])));
        await stack.up();
        const secrets = (await stack.outputs()).tenantSecrets.value.logged;
        const text = log.join("\n");
        const createRoles = text.split("\n").filter((line) => /statement: CREATE ROLE/.test(line));
        assert.equal(createRoles.length, 4);
        assert.equal(createRoles.filter((line) => /PASSWORD 'SCRAM-SHA-256\$4096:[^']+'/.test(line)).length, 3);
        for (const password of [secrets.appPassword, secrets.readonlyPassword, secrets.migratorPassword]) {
            assert.match(password, /^[A-Za-z0-9]{40}$/);
            assert.equal(text.includes(password), false);
        }
        assert.equal(text.includes(server!.password), false);
    });
});
