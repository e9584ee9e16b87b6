import * as assert from "node:assert/strict";
import * as path from "node:path";
import { deployAndMigrate, pulumiCliAvailable } from "../../src/automation/stack-ops";

describe("Automation API operations", () => {
    it("refuse clearly without the Pulumi CLI, or reach a real stack with it", async function () {
        if (pulumiCliAvailable()) {
            // With a CLI, a stack that does not exist is reported by the engine, not by us.
            await assert.rejects(deployAndMigrate({ stackName: "tenantdb-test-no-such-stack", workDir: path.resolve(__dirname, "../..") }), /no-such-stack|not found|no stack/i);
            return;
        }
        console.log("      (skipped the real run: no `pulumi` binary on PATH; these operations need the Pulumi CLI)");
        await assert.rejects(deployAndMigrate({ stackName: "dev", workDir: path.resolve(__dirname, "../..") }),
            /the Pulumi CLI is not on PATH: install it \(https:\/\/www\.pulumi\.com\/docs\/install\/\) to deploy; the offline sandbox \(npm start\) needs no CLI/);
    });
});
