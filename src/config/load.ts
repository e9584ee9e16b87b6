/**
 * The one config loader. Each source of stack config has a small adapter in sources/ (Pulumi
 * config inside the program, a `Pulumi.<stack>.yaml` file, the Automation API's config map, a
 * portal request) that produces a ConfigSource; loadStackModel validates it the same way for all.
 */
import { MODEL_KEYS, RawStackConfig, StackModel } from "./model";
import { validateStackConfig } from "./validate";

/** Where a config came from, its raw tenantdb values, and the names (never the values) of its server passwords. */
export interface ConfigSource {
    /** For messages: a file, `stack prod`, `Pulumi config`. */
    readonly origin: string;
    readonly raw: RawStackConfig;
    /** Keys of the secret `tenantdb:serverPasswords` object; the passwords themselves are not read. */
    readonly serverPasswordNames: readonly string[];
    /**
     * Server passwords the source holds in plain text (`pulumi config set` without `--secret`):
     * server names, or `*` when the whole `tenantdb:serverPasswords` value is plain. Refused.
     */
    readonly plainServerPasswordNames?: readonly string[];
}

/** Builds a ConfigSource from a reader of `tenantdb:<key>` values (already parsed from JSON/YAML). */
export function configSource(origin: string, read: (key: string) => unknown): ConfigSource {
    const raw: RawStackConfig = Object.fromEntries(MODEL_KEYS.map((key) => [key, read(key)]));
    const passwords = read("serverPasswords");
    const serverPasswordNames =
        passwords !== null && typeof passwords === "object" && !Array.isArray(passwords) ? Object.keys(passwords) : [];
    return { origin, raw, serverPasswordNames };
}

/** Validates a source into the stack model; throws ConfigError listing every problem. */
export function loadStackModel(source: ConfigSource): StackModel {
    return validateStackConfig(source.raw, {
        serverPasswordNames: source.serverPasswordNames,
        plainServerPasswordNames: source.plainServerPasswordNames,
    });
}

/**
 * The source as readers that never connect to a server see it (the cost preview, the sandbox,
 * config-file edits): every declared server counts as having its password. `pulumi up` still
 * checks the real ones.
 */
export function withEveryServerPassword(source: ConfigSource): ConfigSource {
    return { ...source, serverPasswordNames: Object.keys((source.raw.servers ?? {}) as object) };
}
