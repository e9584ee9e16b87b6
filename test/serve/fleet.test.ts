/**
 * tenantdb serve --fleet: the portal never names a cell. Tenants are listed across the cells,
 * each found in the stack file that holds it, and a job on a tenant runs in its cell.
 */
import * as assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { RunningService } from "../../src/serve/service";
import { call, dropControlDatabase, freshControlDatabase, projectWithDevStack, readText, serve, settled, tokenFor } from "./support";

const DATABASE = "serve_fleet";

describe("tenantdb serve: a fleet of cells", function () {
    this.timeout(60_000);
    let project: ReturnType<typeof projectWithDevStack>;
    let service: RunningService;
    let token: string;

    before(async () => {
        const url = await freshControlDatabase(DATABASE);
        project = projectWithDevStack();
        // Cell 01: the dev stack's acme, globex and initech; cell 02: one tenant, umbrella.
        const dev = readText(project.stackFile);
        renameSync(project.stackFile, path.join(project.dir, "Pulumi.eu-cell-01.yaml"));
        const second = dev.replace(
            / {2}tenantdb:tenants:\n(?: {4}.*\n)+/,
            "  tenantdb:tenants:\n    - id: umbrella\n      server: local\n      connectionLimit: 20\n",
        );
        writeFileSync(
            path.join(project.dir, "Pulumi.eu-cell-02.yaml"),
            second.replace("tenantdb:backup:", "tenantdb:cell:\n    capacity: 10\n  tenantdb:backup:"),
        );
        service = await serve(url, project.dir, { scope: { fleet: "eu" } });
        token = await tokenFor(url, "portal", ["read", "provision", "offboard"]);
    });

    after(async () => {
        await service?.close();
        project?.remove();
        await dropControlDatabase(DATABASE);
    });

    it("lists the tenants of every cell, and each cell's counts and capacity", async () => {
        const list = (await call(service.url, "GET", "/v1/tenants", { token })).body as { tenants: { id: string; stack: string }[] };
        assert.deepEqual(
            list.tenants.map((t) => [t.id, t.stack]),
            [
                ["acme", "eu-cell-01"],
                ["globex", "eu-cell-01"],
                ["initech", "eu-cell-01"],
                ["umbrella", "eu-cell-02"],
            ],
        );
        const fleet = (await call(service.url, "GET", "/v1/fleet", { token })).body as { stacks: unknown[] };
        assert.deepEqual(fleet.stacks, [
            // No tenantdb:cell in cell 01: the default capacity.
            { stack: "eu-cell-01", tenants: { active: 3 }, capacity: 25 },
            { stack: "eu-cell-02", tenants: { active: 1 }, capacity: 10 },
        ]);
        const tenant = (await call(service.url, "GET", "/v1/tenants/umbrella", { token })).body as Record<string, unknown>;
        assert.deepEqual([tenant.stack, tenant.cell, tenant.state, tenant.connectionLimit], ["eu-cell-02", "eu-cell-02", "active", 20]);
    });

    it("runs a tenant's job in its cell", async () => {
        const answer = await call(service.url, "POST", "/v1/tenants/umbrella/suspend", { token, key: "suspend-umbrella-1", json: {} });
        const job = await settled(service.url, token, (answer.body as { id: string }).id);
        assert.deepEqual(
            [job.stack, job.state, (job.error as { type: string }).type],
            ["eu-cell-02", "failed", "urn:tenantdb:problem:invalid-request"],
        );
    });
});
