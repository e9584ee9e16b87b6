/**
 * A fleet of three cells (stacks `prod-cell-01..03` of one project) on the real engine: a deploy
 * across cells in parallel, one process per cell, with results and exit codes per cell; new
 * tenants placed in the cell with room; and one broken cell failing alone.
 */
import * as assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { FleetClient } from "../../src/control";
import { declaredTenantsConfig, dropDeclaredTenant } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, STACK_RESOURCES, stackConfigOf } from "../support/engine";
import { testServer } from "../support/server";

const CELLS = ["prod-cell-01", "prod-cell-02", "prod-cell-03"];
const FIRST = ["cell_a", "cell_b", "cell_c"];
const IDS = [...FIRST, "cell_new1", "cell_new2"];

describe("Real engine: a fleet of cells", function () {
    this.timeout(600_000);
    let project: EngineProject;
    let fleet: FleetClient;
    let seedsFile: string;
    const seed = (id: string) => ({
        seed: {
            companyName: `${id} Ltd`,
            adminEmail: `admin@${id.replace(/_/g, "-")}.test`,
            adminPassword: "correct horse battery staple",
        },
    });
    const tenantsOf = (cell: string) =>
        (parseYaml(readFileSync(path.join(project.dir, `Pulumi.${cell}.yaml`), "utf8")).config["tenantdb:tenants"] as { id: string }[]).map(
            (t) => t.id,
        );

    before(async function () {
        const engine = requireEngine(this);
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
        project = EngineProject.create(engine);
        for (const [index, cell] of CELLS.entries()) {
            await project.stack(
                cell,
                stackConfigOf({
                    ...declaredTenantsConfig(testServer(), [{ id: FIRST[index], connectionLimit: 20 }]),
                    "tenantdb:cell": { capacity: 2 },
                }),
            );
        }
        // The cells' first companies, the admin password from the environment (never in the file).
        seedsFile = path.join(project.root, "seeds.yaml");
        writeFileSync(
            seedsFile,
            FIRST.map(
                (id) => `${id}: { companyName: ${id} Ltd, adminEmail: admin@${id.replace(/_/g, "-")}.test, adminPasswordEnv: CELL_ADMIN }`,
            ).join("\n"),
        );
        const env = { ...project.env, CELL_ADMIN: "correct horse battery staple" };
        fleet = new FleetClient({
            workDir: project.dir,
            actor: "ci",
            env,
            pulumiBinDir: engine.binDir,
            concurrency: 2,
            lease: { waitMs: 300_000 },
        });
    });

    after(async () => {
        project?.remove();
        for (const id of IDS) await dropDeclaredTenant(testServer(), id);
    });

    it("deploys every cell in its own process, two at a time, with a result per cell", async () => {
        const results = await fleet.run("prod", "deploy", { seedsFile });
        assert.deepEqual(
            results.map((r) => {
                const output = r.output as {
                    changes: Record<string, number>;
                    migrations: { tenants: { tenantId: string; outcome: string }[] };
                };
                return [r.cell, r.exitCode, output.changes, output.migrations.tenants.map((t) => `${t.tenantId} ${t.outcome}`)];
            }),
            CELLS.map((cell, i) => [cell, 0, { create: STACK_RESOURCES + RESOURCES_PER_TENANT }, [`${FIRST[i]} ok`]]),
        );
    });

    it("places new tenants in the cell with the most room, and the same request again in the same cell", async () => {
        const first = await fleet.provision("prod", { id: "cell_new1" }, seed("cell_new1"));
        assert.deepEqual([first.cell, first.created, first.tenantId], ["prod-cell-01", true, "cell_new1"]);
        const again = await fleet.provision("prod", { id: "cell_new1" }, seed("cell_new1"));
        assert.deepEqual([again.cell, again.created], ["prod-cell-01", false]);
        const second = await fleet.provision("prod", { id: "cell_new2" }, seed("cell_new2"));
        assert.deepEqual([second.cell, second.created], ["prod-cell-02", true]);
        assert.deepEqual(CELLS.map(tenantsOf), [["cell_a", "cell_new1"], ["cell_b", "cell_new2"], ["cell_c"]]);
    });

    it("previews a provision in the cell it would go to, writing nothing", async () => {
        const before = CELLS.map(tenantsOf);
        const preview = await fleet.previewChange("prod", { action: "provision", tenant: { id: "cell_new3" } });
        assert.equal(preview.stack, "prod-cell-03"); // cells 01 and 02 are full (capacity 2)
        assert.deepEqual(
            preview.tenants.map((t) => [t.tenantId, t.infrastructure.counts.create, t.migrations.status, t.blocked]),
            [["cell_new3", RESOURCES_PER_TENANT, "new", []]],
        );
        assert.deepEqual([preview.blocked, preview.unchanged], [false, ["cell_c"]]);
        assert.deepEqual(CELLS.map(tenantsOf), before);
    });

    it("reports a broken cell's failure with its own exit code while the others succeed", async () => {
        const file = path.join(project.dir, "Pulumi.prod-cell-03.yaml");
        const text = readFileSync(file, "utf8");
        project.writeConfig("prod-cell-03", { "tenantdb:tenants": [{ id: "Bad-Id", server: "local" }] });
        try {
            const results = await fleet.run("prod", "status");
            assert.deepEqual(
                results.map((r) => [r.cell, r.exitCode]),
                [
                    ["prod-cell-01", 0],
                    ["prod-cell-02", 0],
                    ["prod-cell-03", 2],
                ],
            );
            assert.deepEqual(
                (results[0].output as { tenants: { id: string; state: string }[] }).tenants.map((t) => `${t.id} ${t.state}`),
                ["cell_a active", "cell_new1 active"],
            );
            assert.match(
                (results[2].output as { error: { code: string; message: string } }).error.message,
                /tenantdb:tenants\[0\]\.id: must start with a lowercase letter/,
            );
        } finally {
            project.writeConfig("prod-cell-03", parseYaml(text).config);
        }
    });
});
