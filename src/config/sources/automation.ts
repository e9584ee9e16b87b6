/** Adapter: a stack's config as the Automation API returns it (`stack.getAllConfig()`). */
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { ConfigError } from "../errors";
import { ConfigSource, configSource } from "../load";

/** Parses one structured value; a parse error never echoes the value (it may be secret). */
function parseValue(config: ConfigMap, key: string): unknown {
    const entry = config[key];
    if (entry === undefined) return undefined;
    try {
        return JSON.parse(entry.value);
    } catch {
        const secret = entry.secret ? " (a secret; its value is not shown)" : "";
        throw new ConfigError([{ path: key, message: `is not valid structured config${secret}: set it with pulumi config set --path` }]);
    }
}

export function sourceFromAutomationConfig(config: ConfigMap, origin: string): ConfigSource {
    const source = configSource(origin, (key) => parseValue(config, `tenantdb:${key}`));
    const passwords = config["tenantdb:serverPasswords"];
    // Set with --path and --secret, the whole object is a secret; without --secret, it is plain text.
    return passwords !== undefined && !passwords.secret ? { ...source, plainServerPasswordNames: ["*"] } : source;
}
