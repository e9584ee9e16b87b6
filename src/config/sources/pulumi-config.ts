/** Adapter: stack config as a running Pulumi program sees it (`pulumi up`, the offline evaluator). */
import * as pulumi from "@pulumi/pulumi";
import { ConfigSource, configSource, loadStackModel } from "../load";
import { StackModel } from "../model";

/**
 * Reads `tenantdb:*` stack config and validates all of it. External servers' admin passwords
 * come from the secret object `tenantdb:serverPasswords` and stay Pulumi secrets; only the
 * object's keys are looked at here, to report a missing password before anything is declared.
 */
export function loadFromPulumiConfig(config = new pulumi.Config("tenantdb")): {
    model: StackModel;
    serverPasswords: pulumi.Output<Record<string, string>>;
} {
    const serverPasswords = config.getSecretObject<Record<string, string>>("serverPasswords") ?? pulumi.secret<Record<string, string>>({});
    const source: ConfigSource = configSource("Pulumi config", (key) => config.getObject(key));
    return { model: loadStackModel(source), serverPasswords };
}
