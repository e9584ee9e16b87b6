/**
 * The server-move guard's logic (src/program/deployed-placement.ts): which config edits are a
 * move, and when a released tenant is not one. The engine's side, and the refusal as `pulumi
 * preview` shows it, are tested on the real engine (test/engine/server-move.test.ts).
 */
import * as assert from "node:assert/strict";
import { configSource, loadStackModel, withEveryServerPassword } from "../../src/config/load";
import { StackModel } from "../../src/config/model";
import { DeployedStackReader, placementFromOutputs, serverMoveProblems } from "../../src/program/deployed-placement";

const server = (host: string) => ({ kind: "external", host, port: 5432, adminUser: "admin", capacity: 10, maxConnections: 200 });

function model(tenants: Record<string, unknown>[]): StackModel {
    const config: Record<string, unknown> = {
        servers: { "pg-a": server("a.internal"), "pg-b": server("b.internal") },
        tenants,
        backup: { buckets: false },
    };
    return loadStackModel(withEveryServerPassword(configSource("test", (key) => config[key])));
}

/** A stack whose outputs place tenants as given, and whose state holds the named tenants' components. */
function deployedStack(placement: Record<string, string>, inState = Object.keys(placement)): DeployedStackReader & { reads: string[] } {
    const reads: string[] = [];
    return {
        reads,
        async outputs() {
            reads.push("outputs");
            return { tenants: Object.fromEntries(Object.entries(placement).map(([id, s]) => [id, { server: s, database: `erp_${id}` }])) };
        },
        async resourceUrns() {
            reads.push("resources");
            return inState.flatMap((id) => [
                `urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase::tenant-${id}`,
                `urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$postgresql:index/database:Database::tenant-${id}-database`,
            ]);
        },
    };
}

const moveMessage = (id: string, from: string, to: string) =>
    `tenant ${id} is deployed on server "${from}"; this config puts it on "${to}", which would replace its database with an empty one. ` +
    `Undo the edit (server: ${from}, and its plan if that changed too). A tenant changes servers only by the move procedure: suspend, ` +
    'back up, release it from the state, deploy it on the new server, restore (README.md, "Moving a tenant to another server").';

describe("server-move guard", () => {
    it("refuses every tenant whose server differs from the deployed one, at its own config index", async () => {
        const edited = model([
            { id: "acme", server: "pg-a" },
            { id: "globex", server: "pg-a" },
            { id: "initech", server: "pg-b" },
        ]);
        const problems = await serverMoveProblems(edited, deployedStack({ acme: "pg-a", globex: "pg-b", initech: "pg-a" }));
        assert.deepEqual(problems, [
            { path: "tenantdb:tenants[1].server", message: moveMessage("globex", "pg-b", "pg-a") },
            { path: "tenantdb:tenants[2].server", message: moveMessage("initech", "pg-a", "pg-b") },
        ]);
    });

    it("refuses a plan change that moves a tenant to its dedicated server", async () => {
        const config = model([{ id: "acme", server: "pg-a" }]);
        const enterprise: StackModel = { ...config, tenants: [{ ...config.tenants[0], plan: "enterprise", server: "ent-acme" }] };
        assert.deepEqual(await serverMoveProblems(enterprise, deployedStack({ acme: "pg-a" })), [
            { path: "tenantdb:tenants[0].server", message: moveMessage("acme", "pg-a", "ent-acme") },
        ]);
    });

    it("lets new tenants, unchanged ones and a stack never deployed through, without reading the state", async () => {
        const config = model([
            { id: "acme", server: "pg-a" },
            { id: "hooli", server: "pg-b" },
        ]);
        const stack = deployedStack({ acme: "pg-a" });
        assert.deepEqual(await serverMoveProblems(config, stack), []);
        assert.deepEqual(stack.reads, ["outputs"]);
        const fresh = deployedStack({});
        assert.deepEqual(await serverMoveProblems(config, fresh), []);
        assert.deepEqual(fresh.reads, ["outputs"]);
    });

    it("lets a tenant released from the state move: the outputs still name its old server until the next up", async () => {
        const config = model([
            { id: "acme", server: "pg-b" },
            { id: "globex", server: "pg-b" },
        ]);
        const stack = deployedStack({ acme: "pg-a", globex: "pg-a" }, ["globex"]);
        assert.deepEqual(await serverMoveProblems(config, stack), [
            { path: "tenantdb:tenants[1].server", message: moveMessage("globex", "pg-a", "pg-b") },
        ]);
        assert.deepEqual(stack.reads, ["outputs", "resources"]);
    });

    it("reads placement from outputs of any age: entries without a server, null ones and a missing tenants output are skipped", () => {
        assert.deepEqual(
            [
                ...placementFromOutputs({
                    tenants: { acme: { server: "pg-a" }, old: { database: "erp_old" }, gone: null, odd: { server: 3 } },
                }),
            ],
            [["acme", "pg-a"]],
        );
        assert.deepEqual([...placementFromOutputs({})], []);
        assert.deepEqual([...placementFromOutputs({ tenants: "not an object" })], []);
    });
});
