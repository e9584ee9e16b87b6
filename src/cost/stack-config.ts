/**
 * Reads a Pulumi stack config file (`Pulumi.<stack>.yaml`) into the flat map Pulumi hands a
 * program (`namespace:key` -> string, structured values as JSON), for the offline evaluation and
 * for the cost assumptions.
 *
 * Secure values (`secure: <ciphertext>`) cannot be decrypted here and do not affect cost: they
 * are replaced by a placeholder and only their keys are reported. Their values are never printed.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { CostError } from "./errors";

/** Stands in for secure config values during an offline evaluation. */
export const SECRET_PLACEHOLDER = "tenantdb-cost-preview-placeholder";

export interface StackConfig {
    /** Flat config: `namespace:key` -> string (JSON for structured values). */
    readonly config: Record<string, string>;
    /** Keys whose (secure) values were replaced by {@link SECRET_PLACEHOLDER}. */
    readonly secretKeys: string[];
    readonly file: string;
}

/** `Pulumi.<stack>.yaml` beside `Pulumi.yaml` in `workDir`. */
export function stackConfigPath(stack: string, workDir = process.cwd()): string {
    return path.join(workDir, `Pulumi.${stack}.yaml`);
}

/** The project name from `Pulumi.yaml` beside the stack file, used for keys without a namespace. */
function projectName(dir: string): string {
    const projectFile = path.join(dir, "Pulumi.yaml");
    if (!existsSync(projectFile)) return "tenantdb";
    const project = parse(readFileSync(projectFile, "utf8")) as { name?: unknown } | null;
    return typeof project?.name === "string" ? project.name : "tenantdb";
}

function isSecure(value: unknown): value is { secure: string } {
    return value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { secure?: unknown }).secure === "string";
}

function stripSecrets(value: unknown, onSecret: () => void): unknown {
    if (isSecure(value)) {
        onSecret();
        return SECRET_PLACEHOLDER;
    }
    if (Array.isArray(value)) return value.map((v) => stripSecrets(v, onSecret));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stripSecrets(v, onSecret)]));
    }
    return value;
}

/** Parses stack config YAML text. `project` namespaces keys written without one. */
export function parseStackConfig(text: string, file: string, project = "tenantdb"): StackConfig {
    let document: unknown;
    try {
        document = parse(text);
    } catch (error) {
        throw new CostError(`Stack config ${file} is not valid YAML: ${(error as Error).message}`, { cause: error });
    }
    const root = (document ?? {}) as { config?: unknown };
    if (root.config !== undefined && (root.config === null || typeof root.config !== "object" || Array.isArray(root.config))) {
        throw new CostError(`Stack config ${file}: "config" must be a map of keys to values`);
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [rawKey, rawValue] of Object.entries((root.config ?? {}) as Record<string, unknown>)) {
        const key = rawKey.includes(":") ? rawKey : `${project}:${rawKey}`;
        let secret = false;
        const value = stripSecrets(rawValue, () => (secret = true));
        if (secret) secretKeys.push(key);
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return { config, secretKeys, file };
}

/** Reads a stack config file; the error names the file and how to point at another one. */
export function readStackConfig(file: string): StackConfig {
    if (!existsSync(file)) {
        throw new CostError(`Stack config file ${file} does not exist. Pass --config <file>, or --stack <name> to read Pulumi.<name>.yaml in the current directory.`);
    }
    return parseStackConfig(readFileSync(file, "utf8"), file, projectName(path.dirname(path.resolve(file))));
}
