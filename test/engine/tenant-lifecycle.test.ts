/**
 * Config edits on a real stack: adding a tenant previews and creates only its resources, and
 * its app role works after the migrations; removing one stops on protection with nothing lost.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import type { Client } from "pg";
import { runFleet } from "../../src/migrate/fleet";
import { targetsFromStackOutputs } from "../../src/migrate/targets";
import { tenantNames } from "../../src/naming";
import { catalogSnapshot } from "../support/catalog";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, STACK_RESOURCES, stackConfigOf } from "../support/engine";
import { testServer, withClient } from "../support/server";

const FIRST = [
    { id: "life_acme", connectionLimit: 20 },
    { id: "life_globex", connectionLimit: 20 },
];
const ADDED = { id: "life_hooli", connectionLimit: 20 };
const IDS = [...FIRST, ADDED].map((tenant) => tenant.id);
const SEED = { companyName: "Hooli", adminEmail: "admin@hooli.test", adminPassword: "correct horse battery staple" };

/** The tenant a resource URN belongs to (its component and children are named tenant-<id>...). */
function tenantOfUrn(urn: string): string | undefined {
    return /::tenant-([a-z0-9_]+?)(?:-[a-z].*)?$/.exec(urn)?.[1];
}

const asRole = <T>(user: string, password: string, database: string, body: (client: Client) => Promise<T>) =>
    withClient({ host: testServer().host, port: testServer().port, user, password }, database, body);

describe("Real engine: adding and removing tenants by editing the stack config", function () {
    this.timeout(300_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let appPassword: string;
    const configWith = (tenants: readonly { id: string; connectionLimit: number }[]) =>
        stackConfigOf(declaredTenantsConfig(testServer(), tenants));

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        stack = await project.stack("dev", configWith(FIRST));
        await stack.up();
    });

    after(async () => {
        project?.remove();
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    it("previews exactly the new tenant's creates, deploys them, migrates it, and its app role works", async () => {
        project.writeConfig("dev", configWith([...FIRST, ADDED]).plain);
        const planned: Record<string, string[]> = {};
        const preview = await stack.preview({
            onEvent: (event) => {
                const metadata = event.resourcePreEvent?.metadata;
                if (metadata && metadata.op !== "same") (planned[metadata.op] ??= []).push(tenantOfUrn(metadata.urn) ?? metadata.urn);
            },
        });
        // Unchanged: the stack, the server's provider and the two tenants' resources (summaries do
        // not count the engine's default random provider).
        assert.deepEqual(preview.changeSummary, { create: RESOURCES_PER_TENANT, same: STACK_RESOURCES + 2 * RESOURCES_PER_TENANT });
        assert.deepEqual(Object.keys(planned), ["create"]);
        assert.deepEqual(new Set(planned.create), new Set([ADDED.id]));
        assert.equal(planned.create.length, RESOURCES_PER_TENANT);

        const up = await stack.up();
        assert.deepEqual(up.summary.resourceChanges, { create: RESOURCES_PER_TENANT, same: STACK_RESOURCES + 2 * RESOURCES_PER_TENANT });

        const outputs = await stack.outputs();
        const report = await runFleet(
            targetsFromStackOutputs({ tenants: outputs.tenants.value, tenantSecrets: outputs.tenantSecrets.value }),
            {
                mode: "up",
                only: [ADDED.id],
                seed: { [ADDED.id]: SEED },
            },
        );
        assert.deepEqual(
            report.tenants.map((t) => [t.tenantId, t.outcome, t.applied]),
            [[ADDED.id, "ok", ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"]]],
        );

        const names = tenantNames(ADDED.id);
        appPassword = outputs.tenantSecrets.value[ADDED.id].appPassword;
        assert.equal(outputs.tenantSecrets.secret, true);
        const company = await asRole(names.appRole, appPassword, names.database, async (client) => {
            await client.query("INSERT INTO masters.units (code, name, kind) VALUES ('life_test', 'Life test', 'count')");
            return (await client.query("SELECT name FROM core.companies")).rows.map((row) => row.name);
        });
        assert.deepEqual(company, ["Hooli"]);
    });

    it("refuses to remove a tenant from the config: up stops on protection, its database, roles and data intact", async () => {
        const names = tenantNames(ADDED.id);
        const before = await catalogSnapshot(testServer(), [ADDED.id], { passwords: "verifier" });
        const stateBefore = (await stack.exportStack()).deployment.resources.length;

        project.writeConfig("dev", configWith(FIRST).plain);
        await assert.rejects(stack.up(), (error: Error) => {
            assert.match(
                error.message,
                new RegExp(
                    `resource "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase\\$postgresql:index/[a-zA-Z]+:[a-zA-Z]+::tenant-${ADDED.id}-[a-z_-]+" cannot be deleted`,
                ),
            );
            return true;
        });

        assert.deepEqual(await catalogSnapshot(testServer(), [ADDED.id], { passwords: "verifier" }), before);
        const units = await asRole(names.appRole, appPassword, names.database, async (client) =>
            (await client.query("SELECT code FROM masters.units WHERE code = 'life_test'")).rows.map((row) => row.code),
        );
        assert.deepEqual(units, ["life_test"]);
        assert.equal((await stack.exportStack()).deployment.resources.length, stateBefore);

        // Nothing was forgotten either: with the tenant back in the config, up has nothing to do.
        project.writeConfig("dev", configWith([...FIRST, ADDED]).plain);
        const back = await stack.up();
        assert.deepEqual(back.summary.resourceChanges, { same: STACK_RESOURCES + 3 * RESOURCES_PER_TENANT });
    });
});
