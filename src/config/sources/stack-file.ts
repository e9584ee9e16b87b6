/**
 * Adapter: a stack config file (`Pulumi.<stack>.yaml`), read without the Pulumi CLI, for the
 * cost preview, the sandbox, the benchmarks and config-file edits.
 *
 * It gives two views of one parse: the flat map Pulumi hands a program (`namespace:key` ->
 * string, structured values as JSON), to run the program offline, and the ConfigSource the
 * model is loaded from. Secure values (`secure: <ciphertext>`) cannot be decrypted here and
 * change no resource: they are replaced by a placeholder and only their keys are reported.
 * Their values are never printed.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseYamlQuietly } from "../../shared/yaml";
import { ConfigError } from "../errors";
import { ConfigSource, configSource } from "../load";
import { assertStackName } from "../stack-name";

/** The top-level keys of a Pulumi stack file (Pulumi's ProjectStack). */
const STACK_FILE_KEYS = ["config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt"];

/** Stands in for secure config values during an offline evaluation. */
export const SECRET_PLACEHOLDER = "tenantdb-cost-preview-placeholder";

export interface StackFile {
    readonly file: string;
    /** Flat config: `namespace:key` -> string (JSON for structured values). */
    readonly config: Record<string, string>;
    /** Keys whose (secure) values were replaced by {@link SECRET_PLACEHOLDER}. */
    readonly secretKeys: string[];
    /** The tenantdb config, for loadStackModel. */
    readonly source: ConfigSource;
}

/** `Pulumi.<stack>.yaml` beside `Pulumi.yaml` in `workDir`; throws StackNameError for a name that would leave it. */
export function stackFilePath(stack: string, workDir = process.cwd()): string {
    assertStackName(stack);
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
    return (
        value !== null &&
        typeof value === "object" &&
        !Array.isArray(value) &&
        Object.keys(value).length === 1 &&
        typeof (value as { secure?: unknown }).secure === "string"
    );
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

/** Server names whose password in `tenantdb:serverPasswords` is not a `secure:` value (`*`: the whole value is plain). */
function plainPasswordNames(passwords: unknown): string[] {
    if (passwords === undefined || passwords === null || isSecure(passwords)) return [];
    if (typeof passwords !== "object" || Array.isArray(passwords)) return ["*"];
    return Object.entries(passwords)
        .filter(([, value]) => !isSecure(value))
        .map(([name]) => name);
}

function fileProblem(file: string, message: string): ConfigError {
    return new ConfigError([{ path: file, message }]);
}

/**
 * A structured tenantdb value from the flat map. Older Automation API writes stored them as
 * JSON strings, which read the same; any other string is refused.
 */
function structuredValue(config: Record<string, string>, key: string, file: string): unknown {
    const value = config[`tenantdb:${key}`];
    if (value === undefined) return undefined;
    try {
        return JSON.parse(value);
    } catch {
        if (value === SECRET_PLACEHOLDER) return undefined; // a whole-object secret: its keys are unknown here
        if (key === "serverPasswords") return undefined; // a password in plain text: refused with its fix (plainPasswordNames)
        throw fileProblem(file, `tenantdb:${key} is a string that is not JSON; write it as YAML`);
    }
}

/** Parses stack config YAML text. `project` namespaces keys written without one. */
export function parseStackFile(text: string, file: string, project = "tenantdb"): StackFile {
    let document: unknown;
    try {
        document = parseYamlQuietly(text, "it");
    } catch (error) {
        // The quiet parser's message names lines, never their text: a line may hold a secret.
        throw fileProblem(file, (error as Error).message.replace(/^it /, ""));
    }
    // An empty file is a stack without config. Anything else must be a map of the keys Pulumi
    // reads: a key it does not know (a tenants list that lost its indentation under config:) would
    // be ignored, and the preview would price part of the stack and exit 0.
    if (document !== null && document !== undefined && (typeof document !== "object" || Array.isArray(document))) {
        throw fileProblem(file, "must be a map with a config: key (a Pulumi stack file); it is a list or a single value");
    }
    const root = (document ?? {}) as { config?: unknown };
    const unknown = Object.keys(root).filter((key) => !STACK_FILE_KEYS.includes(key));
    if (unknown.length > 0) {
        throw fileProblem(
            file,
            `top-level ${unknown.length === 1 ? "key" : "keys"} ${unknown.map((key) => JSON.stringify(key)).join(", ")} ` +
                `${unknown.length === 1 ? "is" : "are"} not part of a Pulumi stack file (${STACK_FILE_KEYS.join(", ")}); ` +
                "indent stack config under config: (e.g. two spaces before tenantdb:tenants:)",
        );
    }
    if (root.config !== undefined && (root.config === null || typeof root.config !== "object" || Array.isArray(root.config))) {
        throw fileProblem(file, '"config" must be a map of keys to values');
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
    const source = configSource(file, (key) => structuredValue(config, key, file));
    const passwords = (root.config as Record<string, unknown> | undefined)?.["tenantdb:serverPasswords"];
    return { file, config, secretKeys, source: { ...source, plainServerPasswordNames: plainPasswordNames(passwords) } };
}

/** Reads a stack config file; the error names the file and how to point at another one. */
export function readStackFile(file: string): StackFile {
    if (!existsSync(file)) {
        throw fileProblem(
            file,
            "does not exist. Pass --config <file>, or --stack <name> to read Pulumi.<name>.yaml in the current directory.",
        );
    }
    return parseStackFile(readFileSync(file, "utf8"), file, projectName(path.dirname(path.resolve(file))));
}
