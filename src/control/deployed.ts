/** What the control API reads back from a deployed stack: its migration targets. */
import type * as automation from "@pulumi/pulumi/automation";
import { targetsFromStackOutputs } from "../migrate/targets";
import type { DeployedOutputs } from "../program/outputs";

/** Migration targets of a deployed stack, with each server's connection budget. */
export async function deployedTargets(stack: automation.Stack) {
    const values = await stack.outputs();
    const outputs: DeployedOutputs = {
        tenants: values.tenants?.value ?? {},
        tenantSecrets: values.tenantSecrets?.value ?? {},
        servers: values.servers?.value ?? {},
    };
    const maxConnections = Object.fromEntries(Object.entries(outputs.servers ?? {}).map(([name, server]) => [name, server.maxConnections]));
    return targetsFromStackOutputs(outputs, { maxConnections });
}
