import * as pulumi from "@pulumi/pulumi";
import { StackModel, validateStackConfig } from "./validate";

/**
 * Reads `tenantdb:*` stack config and validates all of it. External servers' admin passwords
 * come from the secret object `tenantdb:serverPasswords` and stay Pulumi secrets; only the
 * object's keys are looked at here, to report a missing password before anything is declared.
 */
export function readStackConfig(config = new pulumi.Config("tenantdb")): {
    model: StackModel;
    serverPasswords: pulumi.Output<Record<string, string>>;
} {
    const passwords = config.getSecretObject<Record<string, string>>("serverPasswords") ?? pulumi.secret<Record<string, string>>({});
    const passwordNames = Object.keys(config.getObject<Record<string, unknown>>("serverPasswords") ?? {});
    const model = validateStackConfig(
        {
            servers: config.getObject("servers"),
            tenants: config.getObject("tenants"),
            backup: config.getObject("backup"),
            cost: config.getObject("cost"),
            dedicatedServer: config.getObject("dedicatedServer"),
        },
        { serverPasswordNames: passwordNames },
    );
    return { model, serverPasswords: passwords };
}
