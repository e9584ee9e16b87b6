/**
 * The Automation API layer (src/automation/stack-ops.ts) on a real stack: deploy and migrate,
 * provision a tenant, offboard it. Each outcome is checked on the server and in the state.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { deployAndMigrate, offboardTenant, provisionTenant, StackRef } from "../../src/automation/stack-ops";
import { tenantNames } from "../../src/naming";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, STACK_RESOURCES, stackConfigOf } from "../support/engine";
import { testServer, withClient } from "../support/server";

const TENANTS = [{ id: "auto_acme", connectionLimit: 20 }, { id: "auto_globex", connectionLimit: 20 }];
const NEW = "auto_newco";
const IDS = [...TENANTS.map((tenant) => tenant.id), NEW];
const MIGRATIONS = ["0001_baseline", "0002_reference_data", "0003_first_company"];
const seed = (company: string) => ({ companyName: company, adminEmail: `admin@${company.toLowerCase()}.test`, adminPassword: "correct horse battery staple" });

const companies = (tenantId: string) => withClient(testServer(), tenantNames(tenantId).database,
    async (client) => (await client.query("SELECT name FROM core.companies ORDER BY 1")).rows.map((row) => row.name as string));

/** The tenants whose resources the state holds (tenant-<id> component names). */
async function tenantsInState(stack: automation.Stack): Promise<string[]> {
    const { deployment } = await stack.exportStack();
    const ids = (deployment.resources as { type: string; urn: string }[])
        .filter((resource) => resource.type === "tenantdb:index:TenantDatabase")
        .map((resource) => resource.urn.split("::tenant-").pop()!);
    return ids.sort();
}

describe("Real engine: the Automation API layer deploys, provisions and offboards", function () {
    this.timeout(300_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let ref: StackRef;
    const tenantList = () => (parseYaml(readFileSync(path.join(project.dir, "Pulumi.dev.yaml"), "utf8")).config["tenantdb:tenants"] as { id: string }[]).map((t) => t.id);

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        stack = await project.stack("dev", stackConfigOf(declaredTenantsConfig(testServer(), TENANTS)));
        ref = { stackName: "dev", workDir: project.dir };
        project.enter();
    });

    after(async () => {
        project?.remove();
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    it("deployAndMigrate: up, then every tenant migrated and seeded", async () => {
        const { summary, migrations } = await deployAndMigrate(ref, { seed: { auto_acme: seed("Acme"), auto_globex: seed("Globex") } });
        assert.deepEqual(summary.resourceChanges, { create: STACK_RESOURCES + 2 * RESOURCES_PER_TENANT });
        assert.deepEqual(migrations.tenants.map((t) => [t.tenantId, t.outcome, t.applied]), [["auto_acme", "ok", MIGRATIONS], ["auto_globex", "ok", MIGRATIONS]]);
        assert.deepEqual([await companies("auto_acme"), await companies("auto_globex")], [["Acme"], ["Globex"]]);
        assert.deepEqual(await tenantsInState(stack), ["auto_acme", "auto_globex"]);
    });

    it("provisionTenant: records the tenant and its server in config, deploys, migrates and seeds it only", async () => {
        const report = await provisionTenant(ref, { tenantId: NEW, seed: seed("NewCo") });
        assert.deepEqual(report.tenants.map((t) => [t.tenantId, t.outcome, t.applied]), [[NEW, "ok", MIGRATIONS]]);
        assert.deepEqual(tenantList(), ["auto_acme", "auto_globex", NEW]);
        const config = await stack.getConfig("tenantdb:tenants");
        assert.deepEqual(JSON.parse(config.value).at(-1), { id: NEW, server: "local" });
        assert.deepEqual(await companies(NEW), ["NewCo"]);
        assert.deepEqual(await tenantsInState(stack), ["auto_acme", "auto_globex", NEW]);
        const history = await stack.history(1);
        assert.deepEqual(history[0].resourceChanges, { create: RESOURCES_PER_TENANT, same: STACK_RESOURCES + 2 * RESOURCES_PER_TENANT });
    });

    it("offboardTenant: the tenant leaves the config and the state, its database, roles and data stay", async () => {
        // globex sits between two tenants: the next tenant's database waited for its database.
        const leaving = "auto_globex";
        await offboardTenant(ref, leaving);
        assert.deepEqual(tenantList(), ["auto_acme", NEW]);
        assert.deepEqual(await tenantsInState(stack), ["auto_acme", NEW]);
        const { deployment } = await stack.exportStack();
        assert.deepEqual((deployment.resources as { urn: string }[]).filter((r) => r.urn.includes(`::tenant-${leaving}`)), []);
        assert.deepEqual(await companies(leaving), ["Globex"]);
        const names = tenantNames(leaving);
        const roles = await withClient(testServer(), "postgres", (client) => client.query("SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY 1", [`${names.database}\\_%`]));
        assert.deepEqual(roles.rows.map((row) => row.rolname), [names.appRole, names.migratorRole, names.ownerRole, names.readonlyRole]);
        // The other tenants are untouched, and the stack converges.
        const again = await stack.up({ expectNoChanges: true });
        assert.equal(again.summary.result, "succeeded");
    });
});
