/**
 * The live role check (src/control/role-drift.ts) on the real server, with tenants applied the
 * way the program declares them: a tenant whose app role lifted its own statement_timeout and
 * changed its own password, and whose readonly role set one in its database, against a clean one.
 */
import * as assert from "node:assert/strict";
import { Client } from "pg";
import { roleCheckTargets } from "../../src/control/deployed";
import {
    checkRoleDrift,
    describeRoleCheck,
    displaySetting,
    RoleCheck,
    RoleCheckTarget,
    roleDriftExitCode,
    settingsDrift,
} from "../../src/control/role-drift";
import { applyDeclaredTenants, dropDeclaredTenant, TenantFixture } from "../support/declared-tenants";
import { testServer } from "../support/server";

const CLEAN = "rd_clean";
const DRIFTED = "rd_drift";

/** A session as one of the tenant's own roles: the check must see what such a session can do, with no admin. */
async function asRole(fixture: TenantFixture, role: "app" | "readonly", sql: string[]): Promise<void> {
    const server = testServer() as { host: string; port: number };
    const user = role === "app" ? fixture.names.appRole : fixture.names.readonlyRole;
    const client = new Client({
        host: server.host,
        port: server.port,
        database: fixture.names.database,
        user,
        password: fixture.passwords[role],
    });
    await client.connect();
    try {
        for (const statement of sql) await client.query(statement);
    } finally {
        await client.end();
    }
}

const clean = (tenantId: string, role: RoleCheck["role"]): RoleCheck => ({
    tenantId,
    server: "local",
    database: `erp_${tenantId}`,
    role,
    roleName: `erp_${tenantId}_${role}`,
    status: "ok",
    login: "ok",
    settings: [],
});

describe("live role check: drift PostgreSQL cannot prevent", function () {
    this.timeout(120_000);
    let targets: RoleCheckTarget[];

    before(async () => {
        for (const id of [CLEAN, DRIFTED]) await dropDeclaredTenant(testServer(), id);
        const { evaluation, fixtures } = await applyDeclaredTenants(testServer(), [CLEAN, { id: DRIFTED, statementTimeoutMs: 45_000 }]);
        // The deployed stack's outputs are what the evaluation exports (same program, same passwords).
        targets = roleCheckTargets(evaluation.outputs, evaluation);
        const drifted = fixtures.find((f) => f.tenantId === DRIFTED)!;
        await asRole(drifted, "app", [
            "ALTER ROLE CURRENT_USER SET statement_timeout = 0",
            "ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-the-app-itself-1'",
        ]);
        await asRole(drifted, "readonly", [`ALTER ROLE CURRENT_USER IN DATABASE ${drifted.names.database} SET statement_timeout = 0`]);
    });
    after(async () => {
        for (const id of [CLEAN, DRIFTED]) await dropDeclaredTenant(testServer(), id);
    });

    it("declares each login role's own settings as the program does", () => {
        assert.deepEqual(
            targets.map((t) => [t.tenantId, t.roles.app.settings, t.roles.readonly.settings, t.roles.migrator.settings]),
            [
                [
                    CLEAN,
                    { statement_timeout: "30000", idle_in_transaction_session_timeout: "60000" },
                    { statement_timeout: "300000" },
                    { role: "erp_rd_clean_owner" },
                ],
                [
                    DRIFTED,
                    { statement_timeout: "45000", idle_in_transaction_session_timeout: "60000" },
                    { statement_timeout: "300000" },
                    { role: "erp_rd_drift_owner" },
                ],
            ],
        );
    });

    it("reports a changed password and lifted timeouts, exits 8, and finds the clean tenant ok", async () => {
        const report = await checkRoleDrift(targets);
        assert.deepEqual(report.roles, [
            clean(CLEAN, "app"),
            clean(CLEAN, "readonly"),
            clean(CLEAN, "migrator"),
            {
                ...clean(DRIFTED, "app"),
                status: "drift",
                login: "password-changed",
                settings: [{ name: "statement_timeout", scope: "role", declared: "45000", actual: "0" }],
            },
            {
                ...clean(DRIFTED, "readonly"),
                status: "drift",
                settings: [{ name: "statement_timeout", scope: "database", declared: null, actual: "0" }],
            },
            clean(DRIFTED, "migrator"),
        ]);
        assert.deepEqual(report.counts, { ok: 4, drift: 2, unreachable: 0 });
        assert.equal(roleDriftExitCode(report), 8);
        assert.deepEqual(
            report.roles.map((check) => describeRoleCheck(check)),
            [
                "ok",
                "ok",
                "ok",
                "password changed outside Pulumi (the declared password is refused); statement_timeout 45s declared, set to 0",
                "statement_timeout set to 0 in database erp_rd_drift (not declared)",
                "ok",
            ],
        );
        const printed = JSON.stringify(report);
        for (const target of targets) for (const role of Object.values(target.roles)) assert.ok(!printed.includes(role.password));
        assert.ok(!printed.includes("chosen-by-the-app-itself-1"));
    });

    it("says unreachable, without the password, when the server cannot be reached, and exits 9", async () => {
        const cleanTarget = targets.find((t) => t.tenantId === CLEAN)!;
        const report = await checkRoleDrift([{ ...cleanTarget, port: 1 }], { connectionTimeoutMs: 2000 });
        assert.deepEqual(
            report.roles.map((check) => [check.role, check.status, check.login, check.settings, check.reason]),
            ["app", "readonly", "migrator"].map((role) => [role, "unreachable", "unreachable", null, "connect ECONNREFUSED 127.0.0.1:1"]),
        );
        assert.equal(roleDriftExitCode(report), 9);
        assert.equal(
            describeRoleCheck(report.roles[0]),
            "could not log in: connect ECONNREFUSED 127.0.0.1:1; settings not checked: no role of the tenant could log in",
        );
    });

    it("compares time settings by value, whatever their unit, and reports undeclared ones", () => {
        assert.deepEqual(settingsDrift({ statement_timeout: "30000" }, ["statement_timeout=30s"], null), []);
        assert.deepEqual(settingsDrift({ statement_timeout: "300000" }, ["statement_timeout=5min", "work_mem=1GB"], null), [
            { name: "work_mem", scope: "role", declared: null, actual: "1GB" },
        ]);
        assert.deepEqual(settingsDrift({ role: "erp_a_owner" }, null, null), [
            { name: "role", scope: "role", declared: "erp_a_owner", actual: null },
        ]);
        assert.deepEqual(
            [
                ["statement_timeout", "30000"],
                ["statement_timeout", "300000"],
                ["statement_timeout", "0"],
                ["statement_timeout", "1500"],
                ["work_mem", "1GB"],
            ].map(([name, value]) => displaySetting(name, value)),
            ["30s", "5min", "0", "1500ms", "1GB"],
        );
    });
});
