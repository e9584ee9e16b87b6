/** The graph from engine events (Automation API preview). */
import * as assert from "node:assert/strict";
import * as path from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { plannedResourceFromEvent, previewGraph } from "../../src/cost/preview-graph";

const SERVER = "urn:pulumi:dev::tenantdb::tenantdb:index:RdsServer::server-shared-1";

function preEvent(op: string, type: string, name: string, inputs?: Record<string, unknown>, parent = SERVER): EngineEvent {
    const urn = `urn:pulumi:dev::tenantdb::tenantdb:index:RdsServer$${type}::${name}`;
    return {
        sequence: 1,
        timestamp: 0,
        resourcePreEvent: {
            metadata: {
                op,
                urn,
                type,
                provider: "",
                ...(inputs ? { new: { type, urn, id: "", parent, provider: "", inputs, outputs: {} } } : {}),
            },
        },
    } as unknown as EngineEvent;
}

describe("preview graph", () => {
    it("takes type, name, URN, parent and planned inputs from resource-pre events", () => {
        assert.deepEqual(
            plannedResourceFromEvent(
                preEvent("create", "aws:rds/instance:Instance", "server-shared-1", { instanceClass: "db.t4g.medium", multiAz: true }),
            ),
            {
                type: "aws:rds/instance:Instance",
                name: "server-shared-1",
                urn: "urn:pulumi:dev::tenantdb::tenantdb:index:RdsServer$aws:rds/instance:Instance::server-shared-1",
                parent: SERVER,
                inputs: { instanceClass: "db.t4g.medium", multiAz: true },
            },
        );
        assert.deepEqual(
            plannedResourceFromEvent(preEvent("same", "aws:kms/key:Key", "tenant-acme-backups-key", {}))?.name,
            "tenant-acme-backups-key",
        );
        // The engine sends "" as the root stack's parent: no parent.
        const stack = plannedResourceFromEvent(preEvent("same", "pulumi:pulumi:Stack", "tenantdb-dev", {}, ""))!;
        assert.equal(Object.hasOwn(stack, "parent"), false);
    });

    it("ignores deletes and events that plan nothing", () => {
        assert.equal(plannedResourceFromEvent(preEvent("delete", "aws:kms/key:Key", "old-key")), undefined);
        assert.equal(
            plannedResourceFromEvent({
                sequence: 1,
                timestamp: 0,
                diagnosticEvent: { message: "hi", color: "never", severity: "info" },
            } as EngineEvent),
            undefined,
        );
    });

    // The real preview is priced in test/engine/converge.test.ts, on the real engine.
    it("names the fix when no Pulumi CLI is on PATH", async () => {
        const saved = process.env.PATH;
        process.env.PATH = "/nonexistent";
        try {
            await assert.rejects(previewGraph({ stackName: "dev", workDir: path.resolve(__dirname, "..", "..") }), {
                message:
                    "The Pulumi CLI is not on PATH, so a real preview cannot run. Install it (https://www.pulumi.com/docs/install/) or use the offline graph (the default source).",
            });
        } finally {
            process.env.PATH = saved;
        }
    });
});
