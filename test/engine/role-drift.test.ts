/**
 * Role drift a tenant's own roles can make (ALTER ROLE of their own settings and password), on
 * the real engine: what `pulumi refresh` sees of it, and what `tenants status --live` reports
 * from the deployed stack's outputs (a Pulumi secret, read through the Automation API).
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { spawn } from "node:child_process";
import { Client } from "pg";
import { describeRoleCheck, LiveStatus, roleDriftExitCode, TenantdbClient } from "../../src/control";
import { tenantNames } from "../../src/naming";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, REPO_ROOT, refreshDrift, requireEngine, stackConfigOf } from "../support/engine";
import { testServer } from "../support/server";

const TENANT = "rdx_acme";
const names = tenantNames(TENANT);

/** `npm run tenants -- ...` as a process: its exit code and what it printed. */
function tenantsCli(project: EngineProject, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/tenants.ts", "--work-dir", project.dir, ...args], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...project.env, TENANTDB_ENGINE_BIN: project.engine.binDir },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("Real engine: role drift the tenant's own roles make", function () {
    this.timeout(600_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let appPassword: string;

    before(async function () {
        const engine = requireEngine(this);
        await dropDeclaredTenant(testServer(), TENANT);
        project = EngineProject.create(engine);
        stack = await project.stack("dev", stackConfigOf(declaredTenantsConfig(testServer(), [TENANT])));
        assert.equal((await stack.up()).summary.result, "succeeded");
        appPassword = (await stack.outputs()).tenantSecrets.value[TENANT].appPassword;
        const server = testServer() as { host: string; port: number };
        const app = new Client({
            host: server.host,
            port: server.port,
            database: names.database,
            user: names.appRole,
            password: appPassword,
        });
        await app.connect();
        await app.query("ALTER ROLE CURRENT_USER SET statement_timeout = 0");
        await app.query("ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-the-app-itself-2'");
        await app.end();
        // An in-database setting of its own: in pg_db_role_setting, not in rolconfig, which the provider reads.
        const readonlyPassword = (await stack.outputs()).tenantSecrets.value[TENANT].readonlyPassword;
        const readonly = new Client({
            host: server.host,
            port: server.port,
            database: names.database,
            user: names.readonlyRole,
            password: readonlyPassword,
        });
        await readonly.connect();
        await readonly.query(`ALTER ROLE CURRENT_USER IN DATABASE ${names.database} SET statement_timeout = 0`);
        await readonly.end();
    });
    after(async () => {
        project?.remove();
        await dropDeclaredTenant(testServer(), TENANT);
    });

    // The test server's admin is a superuser, so the provider reads pg_authid and sees the password; on RDS it cannot.
    it("refresh sees the app role's own statement_timeout and, with a superuser admin, its password; not an in-database setting", async () => {
        const drifted = await refreshDrift(stack);
        assert.deepEqual(drifted, { [`tenant-${TENANT}-app`]: ["password", "statementTimeout"] });
    });

    it("tenants status --live reads the deployed passwords and reports the drift, exit 8", async () => {
        const run = await tenantsCli(project, "--stack", "dev", "--json", "status", "--live");
        const status = JSON.parse(run.stdout) as LiveStatus;
        assert.equal(run.code, 8, run.stderr);
        assert.ok(!run.stdout.includes(appPassword) && !run.stderr.includes(appPassword));
        assert.deepEqual(
            status.roles.roles.map((check) => [check.roleName, check.status, check.login, check.settings]),
            [
                [
                    names.appRole,
                    "drift",
                    "password-changed",
                    [{ name: "statement_timeout", scope: "role", declared: "30000", actual: "0" }],
                ],
                [names.readonlyRole, "drift", "ok", [{ name: "statement_timeout", scope: "database", declared: null, actual: "0" }]],
                [names.migratorRole, "ok", "ok", []],
            ],
        );
    });

    it("an up with refresh puts the app role back, not the in-database setting, which the client's live status still reports", async () => {
        assert.equal((await stack.up({ refresh: true })).summary.result, "succeeded");
        const client = new TenantdbClient({ workDir: project.dir, actor: "ci", env: project.env, pulumiBinDir: project.engine.binDir });
        const status = await client.liveStatus("dev");
        assert.deepEqual(
            status.roles.roles.map((check) => [check.roleName, check.status, describeRoleCheck(check)]),
            [
                [names.appRole, "ok", "ok"],
                [names.readonlyRole, "drift", `statement_timeout set to 0 in database ${names.database} (not declared)`],
                [names.migratorRole, "ok", "ok"],
            ],
        );
        assert.equal(roleDriftExitCode(status.roles), 8);
        assert.deepEqual(
            status.tenants.map((t) => [t.id, t.state]),
            [[TENANT, "active"]],
        );
    });
});
