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
pulumi.runtime.setMocks(mocks, "tenantdb", "dev", false);
pulumi.runtime.setAllConfig(JSON.parse(process.env.TEST_STACK_CONFIG), ["tenantdb:serverPasswords"]);
pulumi.runtime
    .runInPulumiStack(async () => require("../../../index.ts"))
    .then(async (outputs) => {
        await pulumi.runtime.waitForRPCs?.();
        console.log(JSON.stringify({ outputs: Object.keys(outputs ?? {}).sort(), resources: mocks.resources.length }));
    })
    .catch((error) => {
        console.log(JSON.stringify({ error: String(error.message ?? error) }));
    });
