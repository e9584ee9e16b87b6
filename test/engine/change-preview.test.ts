/**
 * `tenantdb preview` on the real engine, as a pull request runs it: a deployed, migrated stack in
 * a git repository, one edit per case, the command's Markdown compared with a golden file
 * (test/engine/golden/; UPDATE_GOLDEN=1 rewrites them on purpose). Then the portal's call
 * (client.previewChange) previews a provision without writing anything.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { TenantdbClient } from "../../src/control";
import { runFleet } from "../../src/migrate/fleet";
import { targetsFromStackOutputs } from "../../src/migrate/targets";
import type { ChangePreview } from "../../src/preview/types";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, REPO_ROOT, requireEngine, RESOURCES_PER_TENANT, stackConfigOf } from "../support/engine";
import { testServer } from "../support/server";

const TENANTS = [
    { id: "pv_acme", connectionLimit: 20 },
    { id: "pv_beta", connectionLimit: 20 },
];
const ADDED = { id: "pv_newco", connectionLimit: 20 };
const IDS = [...TENANTS.map((t) => t.id), ADDED.id, "pv_portal"];
const GOLDEN = path.join(__dirname, "golden");
const seed = (id: string) => ({
    companyName: `${id} Ltd`,
    adminEmail: `admin@${id.replace(/_/g, "-")}.test`,
    adminPassword: "correct horse battery staple",
});

function assertGolden(name: string, actual: string): void {
    const file = path.join(GOLDEN, name);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
    assert.equal(actual, readFileSync(file, "utf8"), `${name} differs; run with UPDATE_GOLDEN=1 if the change is intended`);
}

describe("Real engine: tenantdb preview of a pull request's change", function () {
    this.timeout(600_000);
    let project: EngineProject;
    let stack: automation.Stack;
    let migrations: string;
    const stackFile = () => path.join(project.dir, "Pulumi.dev.yaml");
    /** The stack config with these tenants on the one server, priced at $120 a month. */
    const config = (tenants: readonly { id: string; connectionLimit: number }[], locale = "C.UTF-8") => {
        const values = declaredTenantsConfig(testServer(), tenants);
        const servers = values["tenantdb:servers"] as Record<string, Record<string, unknown>>;
        servers.local.locale = locale;
        return stackConfigOf({ ...values, "tenantdb:cost": { servers: { local: { monthlyUsd: 120 } } } });
    };
    const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=ci", "-c", "user.email=ci@example.test", ...args], { cwd: project.dir, encoding: "utf8" });
    /** `tenantdb preview` as CI runs it, from the repository, on the project folder. */
    const preview = (...args: string[]) => {
        const run = spawnSync(
            process.execPath,
            [
                path.join(REPO_ROOT, "bin/tenantdb.cjs"),
                "preview",
                "--stack",
                "dev",
                "--base",
                "HEAD",
                "--work-dir",
                project.dir,
                "--migrations",
                migrations,
                ...args,
            ],
            {
                cwd: REPO_ROOT,
                encoding: "utf8",
                env: { ...process.env, ...project.env, TENANTDB_ENGINE_BIN: project.engine.binDir, NO_COLOR: "1" },
            },
        );
        return { status: run.status, stdout: run.stdout, stderr: run.stderr };
    };
    /** Back to the committed stack file and migrations. */
    const reset = () => {
        git("checkout", "--", "Pulumi.dev.yaml");
        rmSync(migrations, { recursive: true, force: true });
        cpSync(path.join(REPO_ROOT, "migrations"), migrations, { recursive: true });
    };

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        migrations = path.join(project.root, "migrations");
        cpSync(path.join(REPO_ROOT, "migrations"), migrations, { recursive: true });
        stack = await project.stack("dev", config(TENANTS));
        await stack.up();
        const outputs = await stack.outputs();
        const report = await runFleet(
            targetsFromStackOutputs({ tenants: outputs.tenants.value, tenantSecrets: outputs.tenantSecrets.value }),
            {
                mode: "up",
                seed: Object.fromEntries(TENANTS.map((t) => [t.id, seed(t.id)])),
            },
        );
        assert.deepEqual(report.counts.ok, 2);
        writeFileSync(path.join(project.dir, ".gitignore"), "node_modules\n");
        git("init", "-q", "-b", "main");
        git("add", "Pulumi.yaml", "Pulumi.dev.yaml", ".gitignore");
        git("commit", "-q", "-m", "deployed");
    });

    after(async () => {
        project?.remove();
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    afterEach(() => project && reset());

    it("a PR that adds a tenant: its creates and migrations, and its neighbours' share of the server falls", () => {
        project.writeConfig("dev", config([...TENANTS, ADDED]).plain);
        const run = preview("--format", "markdown");
        assert.equal(run.status, 0, run.stderr);
        assertGolden("preview-add-tenant.md", run.stdout);
        const json = JSON.parse(preview("--json").stdout) as ChangePreview;
        const added = json.tenants.find((t) => t.tenantId === ADDED.id)!;
        assert.equal(added.infrastructure.counts.create, RESOURCES_PER_TENANT);
        assert.deepEqual(added.migrations.pending, [
            "0001_baseline",
            "0002_reference_data",
            "0003_first_company",
            "0004_credentials_withheld",
        ]);
        // The server's $120 a month, split by 2 tenants before and by 3 after.
        assert.deepEqual(
            json.tenants.map((t) => [t.tenantId, t.cost.beforeUsd.toFixed(2), t.cost.afterUsd.toFixed(2)]),
            [
                ["pv_acme", "60.00", "40.00"],
                ["pv_beta", "60.00", "40.00"],
                ["pv_newco", "0.00", "40.00"],
            ],
        );
    });

    it("a PR that changes a tenant's connection limit: the database and its roles update in place", () => {
        project.writeConfig("dev", config([{ id: "pv_acme", connectionLimit: 30 }, TENANTS[1]]).plain);
        const run = preview("--format", "markdown");
        assert.equal(run.status, 0, run.stderr);
        assertGolden("preview-connection-limit.md", run.stdout);
    });

    it("a PR that adds a migration: it is pending on every tenant; one with COMMIT is refused and blocks", () => {
        writeFileSync(
            path.join(migrations, "0005_invoice_notes.sql"),
            "-- migrate:up\nALTER TABLE finance.journal_lines ADD COLUMN note text;\n-- migrate:down\nALTER TABLE finance.journal_lines DROP COLUMN note;\n",
        );
        const run = preview("--format", "markdown");
        assert.equal(run.status, 0, run.stderr);
        assertGolden("preview-add-migration.md", run.stdout);

        writeFileSync(path.join(migrations, "0006_backfill.sql"), "-- migrate:up\nUPDATE finance.journal_lines SET note = '';\nCOMMIT;\n");
        const refused = preview("--format", "markdown");
        assert.equal(refused.status, 2, refused.stderr);
        assertGolden("preview-refused-migration.md", refused.stdout);
    });

    it("a PR that would replace protected databases (a server's locale): blocked, exit 2", () => {
        project.writeConfig("dev", config(TENANTS, "en_US.UTF-8").plain);
        const run = preview("--format", "markdown");
        assert.equal(run.status, 2, run.stderr);
        assertGolden("preview-replace-protected.md", run.stdout);
    });

    it("a PR that removes a tenant from the stack file: its protected deletes are blocked, exit 2", () => {
        project.writeConfig("dev", config([TENANTS[0]]).plain);
        const run = preview("--json");
        assert.equal(run.status, 2, run.stderr);
        const json = JSON.parse(run.stdout) as ChangePreview;
        const removed = json.tenants.find((t) => t.tenantId === "pv_beta")!;
        assert.equal(removed.state, undefined);
        assert.equal(removed.infrastructure.counts.delete, RESOURCES_PER_TENANT);
        assert.equal(removed.infrastructure.steps.filter((s) => s.protected).length, RESOURCES_PER_TENANT); // every one, its component too
        assert.deepEqual(removed.blocked, [
            `no longer declared: pulumi up would delete its ${RESOURCES_PER_TENANT} resources, its database and data among them; ` +
                "they are protected, so it stops partway. Offboard a tenant with tenants suspend, then retire",
        ]);
        assert.deepEqual(json.problems, []);
        assert.deepEqual(removed.cost.reasons, ["no longer declared: its cost ends"]);
    });

    it("the portal's call previews a provision from a copy: the stack file on disk is unchanged", async () => {
        const before = readFileSync(stackFile(), "utf8");
        const client = new TenantdbClient({
            workDir: project.dir,
            actor: "portal:test",
            env: project.env,
            pulumiBinDir: project.engine.binDir,
        });
        const result = await client.previewChange(
            "dev",
            { action: "provision", tenant: { id: "pv_portal" } },
            { migrationsDir: migrations },
        );
        assert.equal(readFileSync(stackFile(), "utf8"), before);
        assert.equal(result.blocked, false);
        assert.deepEqual(
            result.tenants.map((t) => [t.tenantId, t.infrastructure.counts.create, t.migrations.status, t.cost.reasons[0]]),
            [
                ["pv_acme", 0, "up-to-date", "local shared by 3 tenants instead of 2"],
                ["pv_beta", 0, "up-to-date", "local shared by 3 tenants instead of 2"],
                ["pv_portal", RESOURCES_PER_TENANT, "new", "new tenant on local (standard)"],
            ],
        );
    });
});
