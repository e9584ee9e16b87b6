/** The graph from engine events (Automation API preview), and the real preview where a Pulumi CLI exists. */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { plannedResourceFromEvent, previewGraph, pulumiCliAvailable } from "../../src/cost/preview-graph";

function preEvent(op: string, type: string, name: string, inputs?: Record<string, unknown>): EngineEvent {
    const urn = `urn:pulumi:dev::tenantdb::tenantdb:index:RdsServer$${type}::${name}`;
    return {
        sequence: 1,
        timestamp: 0,
        resourcePreEvent: { metadata: { op, urn, type, provider: "", ...(inputs ? { new: { type, urn, id: "", parent: "", provider: "", inputs, outputs: {} } } : {}) } },
    } as unknown as EngineEvent;
}

describe("preview graph", () => {
    it("takes type, name and planned inputs from resource-pre events", () => {
        assert.deepEqual(plannedResourceFromEvent(preEvent("create", "aws:rds/instance:Instance", "server-shared-1", { instanceClass: "db.t4g.medium", multiAz: true })), {
            type: "aws:rds/instance:Instance",
            name: "server-shared-1",
            inputs: { instanceClass: "db.t4g.medium", multiAz: true },
        });
        assert.deepEqual(plannedResourceFromEvent(preEvent("same", "aws:kms/key:Key", "tenant-acme-backups-key", {}))?.name, "tenant-acme-backups-key");
    });

    it("ignores deletes and events that plan nothing", () => {
        assert.equal(plannedResourceFromEvent(preEvent("delete", "aws:kms/key:Key", "old-key")), undefined);
        assert.equal(plannedResourceFromEvent({ sequence: 1, timestamp: 0, diagnosticEvent: { message: "hi", color: "never", severity: "info" } } as EngineEvent), undefined);
    });

    it("previews the dev stack through the Automation API", async function () {
        if (!pulumiCliAvailable()) {
            console.warn("      skipped: no Pulumi CLI on PATH, so a real preview cannot run here (install https://www.pulumi.com/docs/install/)");
            this.skip();
        }
        this.timeout(300_000);
        const graph = await previewGraph({ stackName: "dev", workDir: path.resolve(__dirname, "..", "..") });
        assert.ok(graph.some((r) => r.type === "postgresql:index/database:Database"));
    });
});
