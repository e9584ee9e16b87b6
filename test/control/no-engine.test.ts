import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EngineError, TenantdbClient } from "../../src/control";

describe("the control API without a Pulumi CLI", () => {
    it("names the fix, and starts nothing", async () => {
        const workDir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-nocli-"));
        const saved = process.env.PATH;
        process.env.PATH = "/nonexistent";
        try {
            const error = await new TenantdbClient({ workDir, actor: "test" }).deploy("dev").catch((e: unknown) => e);
            assert.ok(error instanceof EngineError);
            assert.equal(error.code, "engine_failed");
            assert.equal(
                error.message,
                "pulumi stack select of stack dev failed:\nthe Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) or build it (npm run engine) to deploy; the offline sandbox (npm start) needs no CLI",
            );
        } finally {
            process.env.PATH = saved;
            rmSync(workDir, { recursive: true, force: true });
        }
    });
});
