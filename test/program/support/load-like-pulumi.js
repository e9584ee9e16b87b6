// Loads index.ts the way `pulumi up` does for a `runtime: nodejs` project with a tsconfig.json:
// ts-node registered with the project's tsconfig and TypeScript, CommonJS modules, inside a root
// stack resource. Only the engine is replaced by the SDK's mocks. Prints the stack outputs' keys
// and the number of resources, or the error, as JSON.
require("ts-node").register({
    project: "tsconfig.json",
    transpileOnly: process.env.TEST_TYPE_CHECK === "false",
    compilerOptions: { module: "nodenext", moduleResolution: "nodenext", noEmit: false },
});
const pulumi = require("@pulumi/pulumi");
const { RecordingMocks } = require("../../../src/program/mocks");

const mocks = new RecordingMocks();
// The engine always names an organization (`organization` on a file:// backend); the mocks need one given.
pulumi.runtime.setMocks(mocks, "tenantdb", "dev", false, "organization");
pulumi.runtime.setAllConfig(JSON.parse(process.env.TEST_STACK_CONFIG), ["tenantdb:serverPasswords"]);
pulumi.runtime
    // As the language host does: a program that exports a function is called, and its result awaited.
    .runInPulumiStack(async () => {
        const program = require("../../../index.ts");
        return typeof program === "function" ? program() : program;
    })
    .then(async (outputs) => {
        await pulumi.runtime.waitForRPCs?.();
        console.log(JSON.stringify({ outputs: Object.keys(outputs ?? {}).sort(), resources: mocks.resources.length }));
    })
    .catch((error) => {
        console.log(JSON.stringify({ error: String(error.message ?? error) }));
    });
