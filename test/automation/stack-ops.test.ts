import * as assert from "node:assert/strict";
import { deployAndMigrate } from "../../src/automation/stack-ops";
import { EngineProject, REPO_ROOT, requireEngine } from "../support/engine";

describe("Automation API operations", () => {
    it("name the fix when no Pulumi CLI is on PATH", async () => {
        const path = process.env.PATH;
        process.env.PATH = "/nonexistent";
        try {
            await assert.rejects(deployAndMigrate({ stackName: "dev", workDir: REPO_ROOT }), {
                message: "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) to deploy; the offline sandbox (npm start) needs no CLI",
            });
        } finally {
            process.env.PATH = path;
        }
    });

    it("let the engine report a stack that does not exist", async function () {
        const project = EngineProject.create(requireEngine(this));
        project.enter();
        try {
            await assert.rejects(deployAndMigrate({ stackName: "no-such-stack", workDir: project.dir }), /no stack named 'no-such-stack' found/);
        } finally {
            project.remove();
        }
    });
});
