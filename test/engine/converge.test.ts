/**
 * The real engine and providers on the dev stack's shape (one external server, no buckets):
 * `pulumi up` converges, the local harness builds the same catalog, and hand-made drift is seen.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { applyDeclaredResources } from "../../src/local/apply-declared";
import { LocalServer, startLocalServer } from "../../src/local/embedded-server";
import { evaluateProgramOffline } from "../../src/program/offline";
import { catalogSnapshot } from "../support/catalog";
import { declaredTenantsConfig, dropDeclaredTenant, evaluateSerially, SERVER } from "../support/declared-tenants";
import {
    EngineProject,
    REPO_ROOT,
    refreshDrift,
    requireEngine,
    RESOURCES_PER_TENANT,
    STACK_RESOURCES,
    stackConfigOf,
} from "../support/engine";
import { testServer, withClient } from "../support/server";

const TENANTS = [
    { id: "eng_acme", connectionLimit: 20 },
    { id: "eng_globex", connectionLimit: 20, extensions: ["citext"] },
    { id: "eng_initech", connectionLimit: 20 },
];
const IDS = TENANTS.map((tenant) => tenant.id);
const RESOURCES = STACK_RESOURCES + 3 * RESOURCES_PER_TENANT + 1;

/** `npm run cost -- preview` as a user runs it in the project folder; its JSON report. */
function costPreview(
    project: EngineProject,
    source: "offline" | "preview",
): Promise<{
    lineItems: unknown[];
    servers: { server: string; kind: string; priced: boolean }[];
    unpriced: { type: string; name: string }[];
    tenants: { tenant: string; server: string; monthlyUsd: number }[];
    totalMonthlyUsd: number;
}> {
    return new Promise((resolve, reject) => {
        execFile(
            path.join(REPO_ROOT, "node_modules/.bin/tsx"),
            [path.join(REPO_ROOT, "scripts/cost.ts"), "preview", "--stack", "dev", "--source", source, "--format", "json"],
            { cwd: project.dir, env: { ...process.env, ...project.env }, maxBuffer: 16 * 1024 * 1024 },
            (error, stdout, stderr) =>
                error ? reject(new Error(`cost preview --source ${source} failed: ${stderr}`)) : resolve(JSON.parse(stdout)),
        );
    });
}

const query = (database: string, sql: string) => withClient(testServer(), database, (client) => client.query(sql));

describe("Real engine: pulumi up converges on a real PostgreSQL", function () {
    this.timeout(300_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let firstUp: automation.UpResult;

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        // As production runs it: every step checkpointed to the state.
        project.env.PULUMI_SKIP_CHECKPOINTS = "false";
        stack = await project.stack("dev", stackConfigOf(declaredTenantsConfig(testServer(), TENANTS)));
        firstUp = await stack.up();
    });

    after(async () => {
        project?.remove();
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    it("creates every tenant's resources, then a second up changes nothing", async () => {
        assert.deepEqual(firstUp.summary.resourceChanges, { create: RESOURCES });
        assert.equal(firstUp.summary.result, "succeeded");
        const again = await stack.up({ expectNoChanges: true });
        assert.deepEqual(again.summary.resourceChanges, { same: RESOURCES });
    });

    it("has in its state the URNs the offline evaluator computes, root stack and default providers aside", async () => {
        const state = (await stack.exportStack()).deployment as { resources: { urn: string; type: string }[] };
        // Neither is the program's: the runtime declares the root stack (runInPulumiStack), and the
        // engine the default providers (`pulumi:providers:<package>::default_<version>`).
        const isDefaultProvider = (resource: { urn: string; type: string }) =>
            resource.type.startsWith("pulumi:providers:") && /::default(_\w+)?$/.test(resource.urn);
        const real = state.resources
            .filter((resource) => resource.type !== "pulumi:pulumi:Stack" && !isDefaultProvider(resource))
            .map((resource) => resource.urn)
            .sort();
        const offline = await evaluateProgramOffline(declaredTenantsConfig(testServer(), TENANTS), { stack: "dev" });
        const computed = [...offline.resources.map((resource) => resource.urn!), ...offline.components.map((component) => component.urn)];
        computed.sort();
        assert.deepEqual(real, computed);
        assert.equal(real.length, RESOURCES - 1); // all the up created but the root stack
        // random's, and the built-in `pulumi` package's: the program reads the stack's own outputs
        // through it (the server-move guard, src/program/deployed-placement.ts).
        assert.deepEqual(
            state.resources.filter(isDefaultProvider).map((resource) => resource.type),
            ["pulumi:providers:pulumi", "pulumi:providers:random"],
        );
    });

    it("leaves the catalog the local harness builds from the same program, item by item", async () => {
        const root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-harness-"));
        let harness: LocalServer | undefined;
        try {
            harness = await startLocalServer({ dataDir: path.join(root, "pgdata") });
            const evaluation = await evaluateSerially(declaredTenantsConfig(harness, TENANTS));
            await applyDeclaredResources(evaluation, harness, { server: SERVER, parallel: 2 });
            const real = (await catalogSnapshot(testServer(), IDS, { passwords: "presence" })) as {
                server: { roles: unknown[]; databases: unknown[] };
            };
            assert.deepEqual([real.server.roles.length, real.server.databases.length], [12, 3]);
            assert.deepEqual(await catalogSnapshot(harness, IDS, { passwords: "presence" }), real);
        } finally {
            await harness?.stop();
            rmSync(root, { recursive: true, force: true });
        }
    });

    it("prices a real pulumi preview (--source preview) with the same line items as the offline graph", async () => {
        const [real, offline] = [await costPreview(project, "preview"), await costPreview(project, "offline")];
        assert.deepEqual(real.lineItems, offline.lineItems);
        assert.deepEqual([real.servers, real.unpriced, real.tenants], [offline.servers, offline.unpriced, offline.tenants]);
        // The tenants are on an external server (issue 13): it is listed, unpriced, and no data transfer is billed.
        assert.deepEqual(
            real.servers.map((s) => [s.server, s.kind, s.priced]),
            [[SERVER, "external", false]],
        );
        assert.deepEqual(
            real.unpriced.map((u) => [u.type, u.name]),
            [["(external server)", SERVER]],
        );
        assert.deepEqual(
            real.tenants.map((t) => [t.tenant, t.server, t.monthlyUsd]),
            [
                ["eng_acme", SERVER, 0],
                ["eng_globex", SERVER, 0],
                ["eng_initech", SERVER, 0],
            ],
        );
        assert.equal(real.totalMonthlyUsd, 0);
        assert.equal(real.lineItems.length, 0);
    });

    it("reports drift made by hand on refresh, and the next up puts it back", async () => {
        const declared = await catalogSnapshot(testServer(), IDS, { passwords: "verifier" });
        await query("postgres", "ALTER ROLE erp_eng_acme_app CONNECTION LIMIT 99 CREATEDB");
        await query("erp_eng_acme", "GRANT CREATE ON SCHEMA sales TO erp_eng_acme_readonly");
        await query(
            "erp_eng_acme",
            "ALTER DEFAULT PRIVILEGES FOR ROLE erp_eng_acme_owner IN SCHEMA finance GRANT TRUNCATE ON TABLES TO erp_eng_acme_app",
        );
        await query("postgres", "ALTER DATABASE erp_eng_acme CONNECTION LIMIT 5");
        await query("erp_eng_acme", "GRANT USAGE ON SCHEMA core TO PUBLIC");
        // A maintenance database opened again by hand: the server component's grant sees it.
        await query("postgres", "GRANT CONNECT ON DATABASE template1 TO PUBLIC");

        // What refresh reads back differs from the state: the resources whose drift it sees.
        const drifted = await refreshDrift(stack);
        assert.deepEqual(drifted, {
            "server-local-template1-revoke-public": ["privileges"],
            "tenant-eng_acme-app": ["connectionLimit", "createDatabase"],
            "tenant-eng_acme-database": ["connectionLimit"],
            "tenant-eng_acme-finance-app-default-tables": ["privileges"],
            "tenant-eng_acme-sales-readonly-usage": ["privileges"],
        });

        // The PUBLIC grant on core is not seen: no resource manages PUBLIC on the business schemas.
        const repaired = await stack.up({ refresh: true });
        assert.equal(repaired.summary.result, "succeeded");
        const after = (await catalogSnapshot(testServer(), IDS, { passwords: "verifier" })) as {
            databases: Record<string, { schemas: { nspname: string; acl: string[] }[] }>;
        };
        const core = after.databases.erp_eng_acme.schemas.find((schema) => schema.nspname === "core")!;
        const declaredCore = (declared as typeof after).databases.erp_eng_acme.schemas.find((schema) => schema.nspname === "core")!;
        assert.deepEqual(core.acl, [...declaredCore.acl, "=U/erp_eng_acme_owner"].sort());
        await query("erp_eng_acme", "REVOKE USAGE ON SCHEMA core FROM PUBLIC");
        assert.deepEqual(await catalogSnapshot(testServer(), IDS, { passwords: "verifier" }), declared);
    });
});
