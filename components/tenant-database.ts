import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { roleConnectionLimits } from "../src/config/capacity";
import { BUSINESS_SCHEMAS, DEFAULT_EXTENSIONS, MIGRATIONS_SCHEMA, TenantNames } from "../src/naming";
import { scramVerifier } from "../src/scram";
import { TenantBackupBucket, TenantBackupBucketArgs } from "./backup-bucket";

/**
 * What the program declares for each lifecycle state (an erased tenant is not declared at all).
 * active: as in use. suspended: the login roles cannot log in and the database's connection limit
 * is 0; everything is kept. retired: as suspended, and nothing is protected any more, so the
 * next step (erasing, by no longer declaring it) deletes the database, roles and key.
 */
export type DeclaredLifecycle = "active" | "suspended" | "retired";

export interface TenantDatabaseArgs {
    /** The database and role names (src/naming.ts). */
    readonly names: TenantNames;
    readonly lifecycle: DeclaredLifecycle;
    /** Database CONNECTION LIMIT; split between the roles by roleConnectionLimits(). */
    readonly connectionLimit: number;
    /** Extensions beyond uuid-ossp and pg_trgm. */
    readonly extensions: readonly string[];
    /** statement_timeout of the app role, in milliseconds. */
    readonly statementTimeoutMs: number;
    /** Collation and ctype of the database. */
    readonly locale: string;
    /** The provider of the server the tenant lives on. Every PostgreSQL child uses it explicitly. */
    readonly provider: postgresql.Provider;
    /**
     * The database of the tenant declared before this one on the same server. This one waits for
     * it: the provider creates, alters and drops a database while holding an advisory lock on its
     * admin role in one pooled connection and needing a second from the same pool, so as many
     * database steps at once as the pool has connections deadlock (seen with 10 tenants and the
     * pool of 4). One database step per server at a time costs nothing: that lock serializes
     * them anyway.
     */
    readonly previousDatabase?: postgresql.Database;
    /** The tenant's own backup bucket and key; none when undefined (stacks without an AWS account). */
    readonly backups?: Omit<TenantBackupBucketArgs, "retired">;
}

/** Table privileges of the app role, listed explicitly: the provider never converges on ALL. */
export const APP_TABLE_PRIVILEGES = ["DELETE", "INSERT", "SELECT", "UPDATE"];
/** The audit trail is append-only for the app: rows arrive through a SECURITY DEFINER trigger. */
export const APP_AUDIT_TABLE_PRIVILEGES = ["SELECT"];
export const APP_SEQUENCE_PRIVILEGES = ["SELECT", "USAGE"];
export const READONLY_TABLE_PRIVILEGES = ["SELECT"];
/** Idle-in-transaction sessions of the app are cut after a minute so they cannot hold locks forever. */
export const APP_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
export const READONLY_STATEMENT_TIMEOUT_MS = 300_000;

const NO_POWERS = { superuser: false, createDatabase: false, createRole: false, replication: false, bypassRowLevelSecurity: false };

type LoginRole = "app" | "readonly" | "migrator";

interface Roles {
    readonly owner: postgresql.Role;
    readonly app: postgresql.Role;
    readonly readonly: postgresql.Role;
    readonly migrator: postgresql.Role;
}

/**
 * One tenant's PostgreSQL database, its roles and grants, and its backup bucket.
 *
 * Roles (names from src/naming.ts): owner (NOLOGIN, owns everything), app (the ERP), readonly
 * (reporting) and migrator (LOGIN, member of owner, switches to it at login so migrations
 * create objects owned by owner, which the default privileges then share with app and readonly).
 *
 * Nothing is lost by a config edit: every resource of the tenant is protected and retained on
 * delete. Protecting only the database is not enough: the engine deletes a leaving tenant's
 * resources in dependency order, so it would forget its grants, schemas and roles (from the
 * state, retained on the server) before it stopped at the database, and the next `up` would fail
 * to create roles that exist. With everything protected, `pulumi up` stops before any delete.
 * Offboarding is explicit (README, "Offboarding a tenant").
 */
export class TenantDatabase extends pulumi.ComponentResource {
    public readonly names: TenantNames;
    /** The database resource: the next tenant's database on the same server waits for it. */
    public readonly database: postgresql.Database;
    public readonly databaseName: pulumi.Output<string>;
    public readonly appPassword: pulumi.Output<string>;
    public readonly readonlyPassword: pulumi.Output<string>;
    public readonly migratorPassword: pulumi.Output<string>;
    /** The backup bucket's name, its KMS key and the backup job's policy; undefined without backups. */
    public readonly bucketName?: pulumi.Output<string>;
    public readonly kmsKeyArn?: pulumi.Output<string>;
    public readonly backupPolicyArn?: pulumi.Output<string>;

    /**
     * Protected: never replaced or deleted by an up. Retained: even an unprotected delete never
     * runs DROP. Both lifted only for a retired tenant, by declaring it so.
     */
    private readonly retained: pulumi.CustomResourceOptions;
    /**
     * Objects inside the database (schemas, extensions, grants, default privileges) are always
     * retained on delete: erasing a tenant drops them with its database. Dropping them one by one
     * first only costs time, and schemas whose tables reference each other deadlock when dropped
     * in parallel (seen on the real engine).
     */
    private readonly inDatabase: pulumi.CustomResourceOptions;
    private readonly lifecycle: DeclaredLifecycle;
    /** Grant chains per ACL (see onAcl). */
    private readonly aclChains = new Map<string, pulumi.Resource>();

    constructor(name: string, args: TenantDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        const kept = args.lifecycle !== "retired";
        super("tenantdb:index:TenantDatabase", name, {}, { protect: kept, ...opts });
        this.names = args.names;
        this.lifecycle = args.lifecycle;
        this.retained = { parent: this, provider: args.provider, protect: kept, retainOnDelete: kept };
        this.inDatabase = { ...this.retained, retainOnDelete: true };

        const password = (role: LoginRole) =>
            new random.RandomPassword(
                `${name}-${role}-password`,
                { length: 40, special: false, minLower: 4, minUpper: 4, minNumeric: 4 },
                {
                    parent: this,
                    protect: kept,
                },
            );
        this.appPassword = pulumi.secret(password("app").result);
        this.readonlyPassword = pulumi.secret(password("readonly").result);
        this.migratorPassword = pulumi.secret(password("migrator").result);

        const roles = this.declareRoles(name, args);
        this.database = this.declareDatabase(name, args, roles);
        this.databaseName = this.database.name;
        const connect = this.declareDatabaseAccess(name, roles);
        this.declareExtensions(name, args.extensions, connect);
        this.declareSchemas(name, roles);

        if (args.backups) {
            const backups = new TenantBackupBucket(`${name}-backups`, { ...args.backups, retired: !kept }, { parent: this });
            this.bucketName = backups.bucket.id;
            this.kmsKeyArn = backups.key.arn;
            this.backupPolicyArn = backups.policy.arn;
        }
        this.registerOutputs({
            databaseName: this.databaseName,
            bucketName: this.bucketName,
            kmsKeyArn: this.kmsKeyArn,
            backupPolicyArn: this.backupPolicyArn,
        });
    }

    /** A connection string for one of the tenant's login roles; always a secret. */
    connectionString(role: LoginRole, host: pulumi.Input<string>, port: pulumi.Input<number>, sslmode: string): pulumi.Output<string> {
        const user = { app: this.names.appRole, readonly: this.names.readonlyRole, migrator: this.names.migratorRole }[role];
        const secret = { app: this.appPassword, readonly: this.readonlyPassword, migrator: this.migratorPassword }[role];
        return pulumi.secret(pulumi.interpolate`postgresql://${user}:${secret}@${host}:${port}/${this.names.database}?sslmode=${sslmode}`);
    }

    /** Owner (NOLOGIN) and the three login roles, none with any power, each with its own limits. */
    private declareRoles(name: string, args: TenantDatabaseArgs): Roles {
        const { names } = this;
        const limits = roleConnectionLimits(args.connectionLimit);
        const login = this.lifecycle === "active";
        // What the server is sent: the SCRAM verifier, so no statement (and no server log) holds a password.
        const verifier = (role: string, password: pulumi.Output<string>) =>
            pulumi.secret(password.apply((value) => scramVerifier(role, value)));

        const owner = new postgresql.Role(`${name}-owner`, { name: names.ownerRole, login: false, ...NO_POWERS }, this.retained);
        const app = new postgresql.Role(
            `${name}-app`,
            {
                name: names.appRole,
                login,
                ...NO_POWERS,
                password: verifier(names.appRole, this.appPassword),
                connectionLimit: limits.app,
                statementTimeout: args.statementTimeoutMs,
                idleInTransactionSessionTimeout: APP_IDLE_IN_TRANSACTION_TIMEOUT_MS,
            },
            this.retained,
        );
        const readonly = new postgresql.Role(
            `${name}-readonly`,
            {
                name: names.readonlyRole,
                login,
                ...NO_POWERS,
                password: verifier(names.readonlyRole, this.readonlyPassword),
                connectionLimit: limits.readonly,
                statementTimeout: READONLY_STATEMENT_TIMEOUT_MS,
            },
            this.retained,
        );
        const migrator = new postgresql.Role(
            `${name}-migrator`,
            {
                name: names.migratorRole,
                login,
                ...NO_POWERS,
                password: verifier(names.migratorRole, this.migratorPassword),
                connectionLimit: limits.migrator,
                roles: [names.ownerRole],
                assumeRole: names.ownerRole,
            },
            { ...this.retained, dependsOn: [owner] },
        );
        return { owner, app, readonly, migrator };
    }

    /**
     * After all four roles: when a retired tenant is erased, the engine deletes in reverse order,
     * so the database is dropped (with the privileges inside it) before any role, which could not
     * be dropped while the database still held its grants and default privileges.
     */
    private declareDatabase(name: string, args: TenantDatabaseArgs, roles: Roles): postgresql.Database {
        const after = [roles.owner, roles.app, roles.readonly, roles.migrator, ...(args.previousDatabase ? [args.previousDatabase] : [])];
        return new postgresql.Database(
            `${name}-database`,
            {
                name: this.names.database,
                owner: this.names.ownerRole,
                encoding: "UTF8",
                lcCollate: args.locale,
                lcCtype: args.locale,
                template: "template0",
                // A suspended tenant's database takes no connections (superusers aside), its data intact.
                connectionLimit: this.lifecycle === "active" ? args.connectionLimit : 0,
                allowConnections: true,
                isTemplate: false,
            },
            { ...this.retained, dependsOn: after },
        );
    }

    /**
     * Options of a child that needs the database. Names are known strings and ordering comes from
     * dependsOn: passing plain values instead of other resources' outputs keeps the program cheap
     * to evaluate for hundreds of tenants.
     */
    private afterDatabase(...more: pulumi.Resource[]): pulumi.CustomResourceOptions {
        return { ...this.inDatabase, dependsOn: [this.database, ...more] };
    }

    /**
     * Grants and default privileges on one object rewrite one catalog row (its ACL); PostgreSQL
     * fails the second of two at once with "tuple concurrently updated", and the engine runs
     * independent resources in parallel. So each one on an object waits for the one before it.
     */
    private onAcl<T extends pulumi.Resource>(object: string, declare: (after: pulumi.Resource[]) => T): T {
        const previous = this.aclChains.get(object);
        const resource = declare(previous ? [previous] : []);
        this.aclChains.set(object, resource);
        return resource;
    }

    /** Nobody but this tenant's login roles may connect; schema public is USAGE only. Returns the database grants. */
    private declareDatabaseAccess(name: string, roles: Roles): postgresql.Grant[] {
        const { names } = this;
        const database = names.database;
        const grants = [
            this.onAcl(
                "database",
                (after) =>
                    new postgresql.Grant(
                        `${name}-revoke-public`,
                        { database, role: "public", objectType: "database", privileges: [] },
                        this.afterDatabase(...after),
                    ),
            ),
            ...(
                [
                    ["app", roles.app, names.appRole],
                    ["readonly", roles.readonly, names.readonlyRole],
                    ["migrator", roles.migrator, names.migratorRole],
                ] as const
            ).map(([key, role, roleName]) =>
                this.onAcl(
                    "database",
                    (after) =>
                        new postgresql.Grant(
                            `${name}-${key}-connect`,
                            {
                                database,
                                role: roleName,
                                objectType: "database",
                                privileges: ["CONNECT"],
                            },
                            this.afterDatabase(role, ...after),
                        ),
                ),
            ),
        ];
        // USAGE only for PUBLIC (extension functions live there), never CREATE, also on servers
        // older than PostgreSQL 15, whose default lets everyone create tables.
        new postgresql.Grant(
            `${name}-public-schema`,
            {
                database,
                schema: "public",
                role: "public",
                objectType: "schema",
                privileges: ["USAGE"],
            },
            this.afterDatabase(),
        );
        return grants;
    }

    private declareExtensions(name: string, extensions: readonly string[], after: pulumi.Resource[]): void {
        for (const extension of new Set([...DEFAULT_EXTENSIONS, ...extensions])) {
            new postgresql.Extension(
                `${name}-extension-${extension}`,
                { name: extension, database: this.names.database, schema: "public" },
                {
                    ...this.inDatabase,
                    dependsOn: after,
                },
            );
        }
    }

    /** tenantdb's own schema and the business schemas, with USAGE and default privileges for app and readonly. */
    private declareSchemas(name: string, roles: Roles): void {
        const { names } = this;
        const database = names.database;
        new postgresql.Schema(
            `${name}-schema-${MIGRATIONS_SCHEMA}`,
            { name: MIGRATIONS_SCHEMA, database, owner: names.ownerRole },
            this.afterDatabase(),
        );
        for (const schemaName of BUSINESS_SCHEMAS) {
            const schema = new postgresql.Schema(
                `${name}-schema-${schemaName}`,
                { name: schemaName, database, owner: names.ownerRole },
                this.afterDatabase(),
            );
            const afterSchema = (role: postgresql.Role, after: pulumi.Resource[]) => ({
                ...this.inDatabase,
                dependsOn: [schema, role, ...after],
            });
            for (const [key, role, roleName] of [
                ["app", roles.app, names.appRole],
                ["readonly", roles.readonly, names.readonlyRole],
            ] as const) {
                this.onAcl(
                    `schema ${schemaName}`,
                    (after) =>
                        new postgresql.Grant(
                            `${name}-${schemaName}-${key}-usage`,
                            {
                                database,
                                schema: schemaName,
                                role: roleName,
                                objectType: "schema",
                                privileges: ["USAGE"],
                            },
                            afterSchema(role, after),
                        ),
                );
            }
            // One pg_default_acl row per owner, schema and object type holds every grantee's defaults.
            const defaults = (key: string, role: postgresql.Role, roleName: string, objectType: string, privileges: string[]) =>
                this.onAcl(
                    `defaults ${schemaName} ${objectType}`,
                    (after) =>
                        new postgresql.DefaultPrivileges(
                            `${name}-${schemaName}-${key}-default-${objectType}s`,
                            {
                                database,
                                schema: schemaName,
                                owner: names.ownerRole,
                                role: roleName,
                                objectType,
                                privileges,
                            },
                            afterSchema(role, after),
                        ),
                );
            defaults("app", roles.app, names.appRole, "table", schemaName === "audit" ? APP_AUDIT_TABLE_PRIVILEGES : APP_TABLE_PRIVILEGES);
            defaults("app", roles.app, names.appRole, "sequence", APP_SEQUENCE_PRIVILEGES);
            defaults("readonly", roles.readonly, names.readonlyRole, "table", READONLY_TABLE_PRIVILEGES);
        }
    }
}
