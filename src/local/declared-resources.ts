/**
 * The PostgreSQL resources an offline evaluation of the program declared for one server, read
 * from the recorded inputs into typed values with the @pulumi/postgresql defaults applied.
 * An argument this harness does not apply is refused (never silently ignored), so a component
 * change that the harness cannot reproduce fails loudly here.
 */
import * as pulumi from "@pulumi/pulumi";
import type { RecordedResource } from "../program/mocks";
import type { OfflineEvaluation } from "../program/offline";

export const POSTGRESQL_TYPES = {
    role: "postgresql:index/role:Role",
    grantRole: "postgresql:index/grantRole:GrantRole",
    database: "postgresql:index/database:Database",
    extension: "postgresql:index/extension:Extension",
    schema: "postgresql:index/schema:Schema",
    grant: "postgresql:index/grant:Grant",
    defaultPrivileges: "postgresql:index/defaultPrivileges:DefaultPrivileges",
} as const;
export type DeclaredKind = keyof typeof POSTGRESQL_TYPES;
/** The order resources are applied in (server-wide first, then inside each database). */
export const DECLARED_KINDS: readonly DeclaredKind[] = [
    "role",
    "grantRole",
    "database",
    "extension",
    "schema",
    "grant",
    "defaultPrivileges",
];

interface Declared {
    /** The Pulumi resource name, e.g. `tenant-acme-app`: what errors name. */
    readonly resourceName: string;
}
export interface DeclaredRole extends Declared {
    readonly name: string;
    readonly password?: string;
    readonly login: boolean;
    readonly superuser: boolean;
    readonly createDatabase: boolean;
    readonly createRole: boolean;
    readonly inherit: boolean;
    readonly replication: boolean;
    readonly bypassRowLevelSecurity: boolean;
    /** -1 is unlimited (the provider's default). */
    readonly connectionLimit: number;
    /** Milliseconds; 0 leaves the server's setting (the provider's default). */
    readonly statementTimeout: number;
    readonly idleInTransactionSessionTimeout: number;
    /** Roles this role is a member of. */
    readonly roles: readonly string[];
    /** Role switched to at login (`ALTER ROLE ... SET ROLE`). */
    readonly assumeRole?: string;
}
export interface DeclaredGrantRole extends Declared {
    readonly role: string;
    readonly grantRole: string;
    readonly withAdminOption: boolean;
}
export interface DeclaredDatabase extends Declared {
    readonly name: string;
    readonly owner?: string;
    readonly template?: string;
    readonly encoding?: string;
    readonly lcCollate?: string;
    readonly lcCtype?: string;
    readonly connectionLimit: number;
    readonly allowConnections: boolean;
    readonly isTemplate: boolean;
}
export interface DeclaredExtension extends Declared {
    readonly database: string;
    readonly name: string;
    readonly schema?: string;
}
export interface DeclaredSchema extends Declared {
    readonly database: string;
    readonly name: string;
    readonly owner?: string;
}
export interface DeclaredGrant extends Declared {
    readonly database: string;
    /** A role name, or `public` for PUBLIC. */
    readonly role: string;
    readonly objectType: "database" | "schema";
    readonly schema?: string;
    readonly privileges: readonly string[];
}
export interface DeclaredDefaultPrivileges extends Declared {
    readonly database: string;
    readonly owner: string;
    readonly role: string;
    readonly schema: string;
    readonly objectType: "table" | "sequence" | "function" | "type";
    readonly privileges: readonly string[];
}

export interface DeclaredResources {
    readonly server: string;
    readonly role: DeclaredRole[];
    readonly grantRole: DeclaredGrantRole[];
    readonly database: DeclaredDatabase[];
    readonly extension: DeclaredExtension[];
    readonly schema: DeclaredSchema[];
    readonly grant: DeclaredGrant[];
    readonly defaultPrivileges: DeclaredDefaultPrivileges[];
}

/** Replaces Pulumi's secret envelopes (`{ <sig>: <secret sig>, value }`) with their values. */
export function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return unwrapSecrets(record.value);
        return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, unwrapSecrets(inner)]));
    }
    return value;
}

/** The resource name in a provider reference `urn:pulumi:<stack>::<project>::<type>::<name>::<id>`. */
export function providerName(reference: string): string | undefined {
    const id = reference.lastIndexOf("::");
    const parts = reference.slice(0, id).split("::");
    return parts.length >= 4 ? parts.slice(3).join("::") : undefined;
}

/** The servers (`server-<name>-postgresql` providers) that have PostgreSQL resources. */
export function declaredServers(evaluation: OfflineEvaluation): string[] {
    const servers = new Set<string>();
    for (const resource of evaluation.resources) {
        const match = /^server-(.+)-postgresql$/.exec(resource.provider ? (providerName(resource.provider) ?? "") : "");
        if (match && resource.type.startsWith("postgresql:")) servers.add(match[1]);
    }
    return [...servers].sort();
}

class Inputs {
    private readonly values: Record<string, unknown>;
    private readonly read = new Set<string>();
    constructor(private readonly resource: RecordedResource) {
        this.values = unwrapSecrets(resource.inputs) as Record<string, unknown>;
    }
    private fail(key: string, expected: string): never {
        throw new Error(`${this.resource.type} ${this.resource.name}: argument ${key} must be ${expected}`);
    }
    private get(key: string): unknown {
        this.read.add(key);
        return this.values[key];
    }
    string(key: string): string | undefined {
        const value = this.get(key);
        if (value === undefined || value === "") return undefined;
        return typeof value === "string" ? value : this.fail(key, "a string");
    }
    requiredString(key: string): string {
        return this.string(key) ?? this.fail(key, "a non-empty string");
    }
    boolean(key: string, fallback: boolean): boolean {
        const value = this.get(key);
        if (value === undefined) return fallback;
        return typeof value === "boolean" ? value : this.fail(key, "a boolean");
    }
    integer(key: string, fallback: number): number {
        const value = this.get(key);
        if (value === undefined) return fallback;
        return Number.isSafeInteger(value) ? (value as number) : this.fail(key, "an integer");
    }
    strings(key: string): string[] {
        const value = this.get(key);
        if (value === undefined) return [];
        if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) this.fail(key, "a list of strings");
        return value as string[];
    }
    oneOf<T extends string>(key: string, allowed: readonly T[]): T {
        const value = this.requiredString(key);
        return (allowed as readonly string[]).includes(value)
            ? (value as T)
            : this.fail(key, `one of ${allowed.join(", ")} (the harness covers only these)`);
    }
    /** Throws on any argument that was set but not read: the harness would not apply it. */
    done(): void {
        const unread = Object.keys(this.values).filter((key) => !this.read.has(key) && this.values[key] !== undefined);
        if (unread.length > 0) {
            throw new Error(
                `${this.resource.type} ${this.resource.name}: the local harness does not apply argument(s) ${unread.join(", ")}; ` +
                    "add them to src/local/declared-resources.ts and src/local/declared-sql.ts deliberately.",
            );
        }
    }
}

function parse<T>(resource: RecordedResource, read: (inputs: Inputs) => T): T {
    const inputs = new Inputs(resource);
    const value = read(inputs);
    inputs.done();
    return value;
}

const READERS: { [K in DeclaredKind]: (inputs: Inputs, resourceName: string) => DeclaredResources[K][number] } = {
    role: (i, resourceName) => ({
        resourceName,
        name: i.requiredString("name"),
        password: i.string("password"),
        login: i.boolean("login", false),
        superuser: i.boolean("superuser", false),
        createDatabase: i.boolean("createDatabase", false),
        createRole: i.boolean("createRole", false),
        inherit: i.boolean("inherit", true),
        replication: i.boolean("replication", false),
        bypassRowLevelSecurity: i.boolean("bypassRowLevelSecurity", false),
        connectionLimit: i.integer("connectionLimit", -1),
        statementTimeout: i.integer("statementTimeout", 0),
        idleInTransactionSessionTimeout: i.integer("idleInTransactionSessionTimeout", 0),
        roles: i.strings("roles"),
        assumeRole: i.string("assumeRole"),
    }),
    grantRole: (i, resourceName) => ({
        resourceName,
        role: i.requiredString("role"),
        grantRole: i.requiredString("grantRole"),
        withAdminOption: i.boolean("withAdminOption", false),
    }),
    database: (i, resourceName) => ({
        resourceName,
        name: i.requiredString("name"),
        owner: i.string("owner"),
        template: i.string("template"),
        encoding: i.string("encoding"),
        lcCollate: i.string("lcCollate"),
        lcCtype: i.string("lcCtype"),
        connectionLimit: i.integer("connectionLimit", -1),
        allowConnections: i.boolean("allowConnections", true),
        isTemplate: i.boolean("isTemplate", false),
    }),
    extension: (i, resourceName) => ({
        resourceName,
        database: i.requiredString("database"),
        name: i.requiredString("name"),
        schema: i.string("schema"),
    }),
    schema: (i, resourceName) => ({
        resourceName,
        database: i.requiredString("database"),
        name: i.requiredString("name"),
        owner: i.string("owner"),
    }),
    grant: (i, resourceName) => {
        const objectType = i.oneOf("objectType", ["database", "schema"] as const);
        const schema = i.string("schema");
        if (objectType === "schema" && !schema)
            throw new Error(`Grant ${resourceName}: parameter 'schema' is mandatory for object type schema`);
        return {
            resourceName,
            database: i.requiredString("database"),
            role: i.requiredString("role"),
            objectType,
            schema,
            privileges: i.strings("privileges"),
        };
    },
    defaultPrivileges: (i, resourceName) => ({
        resourceName,
        database: i.requiredString("database"),
        owner: i.requiredString("owner"),
        role: i.requiredString("role"),
        schema: i.requiredString("schema"),
        objectType: i.oneOf("objectType", ["table", "sequence", "function", "type"] as const),
        privileges: i.strings("privileges"),
    }),
};

/**
 * The PostgreSQL resources declared on `server` (resources whose provider is
 * `server-<server>-postgresql`), typed, with secrets unwrapped. Throws on a PostgreSQL type or
 * argument the harness does not apply.
 */
export function declaredResources(evaluation: OfflineEvaluation, server: string): DeclaredResources {
    const declared: DeclaredResources = {
        server,
        role: [],
        grantRole: [],
        database: [],
        extension: [],
        schema: [],
        grant: [],
        defaultPrivileges: [],
    };
    const kindOf = new Map<string, DeclaredKind>(Object.entries(POSTGRESQL_TYPES).map(([kind, type]) => [type, kind as DeclaredKind]));
    for (const resource of evaluation.resources) {
        if (!resource.type.startsWith("postgresql:")) continue;
        if (!resource.provider || providerName(resource.provider) !== `server-${server}-postgresql`) continue;
        const kind = kindOf.get(resource.type);
        if (!kind) throw new Error(`${resource.type} ${resource.name}: the local harness does not apply this resource type.`);
        (declared[kind] as unknown[]).push(parse(resource, (inputs) => READERS[kind](inputs, resource.name)));
    }
    return declared;
}
