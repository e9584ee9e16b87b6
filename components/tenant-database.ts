import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { roleConnectionLimits } from "../src/config/capacity";
import { BackupConfig } from "../src/config/schema";
import { ResolvedTenant } from "../src/config/validate";
import { scramVerifier } from "../src/scram";
import { BUSINESS_SCHEMAS, DEFAULT_EXTENSIONS, MIGRATIONS_SCHEMA, TenantNames, tenantNames } from "../src/naming";
import { TenantBackupBucket } from "./backup-bucket";

export interface TenantDatabaseArgs {
    /** The validated tenant (id, plan, connection limit, extensions, retention). */
    readonly tenant: ResolvedTenant;
    /** The provider of the server the tenant lives on. Every PostgreSQL child uses it explicitly. */
    readonly provider: postgresql.Provider;
    /** Collation and ctype of the database. */
    readonly locale: string;
    /** Stack name (bucket and key names). */
    readonly stack: string;
    /** Backup settings; no bucket is declared when `buckets` is false. */
    readonly backup: BackupConfig;
    /**
     * The database of the tenant declared before this one on the same server. This one waits for
     * it: the provider creates, alters and drops a database while holding an advisory lock on its
     * admin role in one pooled connection and needing a second from the same pool, so as many
     * database steps at once as the pool has connections deadlock (seen with 10 tenants and the
     * pool of 4). One database step per server at a time costs nothing: that lock serializes
     * them anyway.
     */
    readonly previousDatabase?: postgresql.Database;
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
    public readonly database: postgresql.Database;
    public readonly appPassword: pulumi.Output<string>;
    public readonly readonlyPassword: pulumi.Output<string>;
    public readonly migratorPassword: pulumi.Output<string>;
    public readonly backups?: TenantBackupBucket;

    constructor(name: string, args: TenantDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenantdb:index:TenantDatabase", name, {}, { protect: true, ...opts });
        const { tenant, provider } = args;
        const names = (this.names = tenantNames(tenant.id));
        // Protected: never replaced or deleted by an up. Retained: even an unprotected delete never runs DROP.
        const retained = { parent: this, provider, protect: true, retainOnDelete: true };
        const limits = roleConnectionLimits(tenant.connectionLimit);

        const password = (role: string) =>
            new random.RandomPassword(`${name}-${role}-password`, { length: 40, special: false, minLower: 4, minUpper: 4, minNumeric: 4 }, { parent: this, protect: true });
        const appPassword = password("app");
        const readonlyPassword = password("readonly");
        const migratorPassword = password("migrator");
        this.appPassword = pulumi.secret(appPassword.result);
        this.readonlyPassword = pulumi.secret(readonlyPassword.result);
        this.migratorPassword = pulumi.secret(migratorPassword.result);
        // What the server is sent: the SCRAM verifier, so no statement (and no server log) holds a password.
        const verifier = (role: string, password: pulumi.Output<string>) => pulumi.secret(password.apply((value) => scramVerifier(role, value)));

        const owner = new postgresql.Role(`${name}-owner`, { name: names.ownerRole, login: false, ...NO_POWERS }, retained);
        const app = new postgresql.Role(`${name}-app`, {
            name: names.appRole, login: true, ...NO_POWERS,
            password: verifier(names.appRole, this.appPassword),
            connectionLimit: limits.app,
            statementTimeout: tenant.statementTimeoutMs,
            idleInTransactionSessionTimeout: APP_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        }, retained);
        const readonly = new postgresql.Role(`${name}-readonly`, {
            name: names.readonlyRole, login: true, ...NO_POWERS,
            password: verifier(names.readonlyRole, this.readonlyPassword),
            connectionLimit: limits.readonly,
            statementTimeout: READONLY_STATEMENT_TIMEOUT_MS,
        }, retained);
        const migrator = new postgresql.Role(`${name}-migrator`, {
            name: names.migratorRole, login: true, ...NO_POWERS,
            password: verifier(names.migratorRole, this.migratorPassword),
            connectionLimit: limits.migrator,
            roles: [names.ownerRole],
            assumeRole: names.ownerRole,
        }, { ...retained, dependsOn: [owner] });

        this.database = new postgresql.Database(`${name}-database`, {
            name: names.database,
            owner: names.ownerRole,
            encoding: "UTF8",
            lcCollate: args.locale,
            lcCtype: args.locale,
            template: "template0",
            connectionLimit: tenant.connectionLimit,
            allowConnections: true,
            isTemplate: false,
        }, { ...retained, dependsOn: args.previousDatabase ? [owner, args.previousDatabase] : [owner] });
        // Names are known strings; ordering comes from dependsOn. Passing plain values instead of
        // other resources' outputs keeps the program cheap to evaluate for hundreds of tenants.
        const database = names.database;
        const afterDatabase = (...more: pulumi.Resource[]) => ({ ...retained, dependsOn: [this.database, ...more] });

        // Grants and default privileges on one object rewrite one catalog row (its ACL); PostgreSQL
        // fails the second of two at once with "tuple concurrently updated", and the engine runs
        // independent resources in parallel. So each one on an object waits for the one before it.
        const aclChains = new Map<string, pulumi.Resource>();
        const onAcl = <T extends pulumi.Resource>(object: string, declare: (after: pulumi.Resource[]) => T): T => {
            const previous = aclChains.get(object);
            const resource = declare(previous ? [previous] : []);
            aclChains.set(object, resource);
            return resource;
        };

        // Database: nobody but this tenant's login roles may connect.
        const databaseGrants = [
            onAcl("database", (after) => new postgresql.Grant(`${name}-revoke-public`, { database, role: "public", objectType: "database", privileges: [] }, afterDatabase(...after))),
            ...([["app", app, names.appRole], ["readonly", readonly, names.readonlyRole], ["migrator", migrator, names.migratorRole]] as const).map(([key, role, roleName]) =>
                onAcl("database", (after) => new postgresql.Grant(`${name}-${key}-connect`, {
                    database, role: roleName, objectType: "database", privileges: ["CONNECT"],
                }, afterDatabase(role, ...after)))),
        ];

        // Schema public: USAGE only for PUBLIC (extension functions live there), never CREATE,
        // also on servers older than PostgreSQL 15, whose default lets everyone create tables.
        new postgresql.Grant(`${name}-public-schema`, { database, schema: "public", role: "public", objectType: "schema", privileges: ["USAGE"] }, afterDatabase());

        for (const extension of new Set([...DEFAULT_EXTENSIONS, ...tenant.extensions])) {
            new postgresql.Extension(`${name}-extension-${extension}`, { name: extension, database, schema: "public" }, { ...retained, dependsOn: databaseGrants });
        }

        new postgresql.Schema(`${name}-schema-${MIGRATIONS_SCHEMA}`, { name: MIGRATIONS_SCHEMA, database, owner: names.ownerRole }, afterDatabase());
        for (const schemaName of BUSINESS_SCHEMAS) {
            const schema = new postgresql.Schema(`${name}-schema-${schemaName}`, { name: schemaName, database, owner: names.ownerRole }, afterDatabase());
            const afterSchema = (role: postgresql.Role, after: pulumi.Resource[]) => ({ ...retained, dependsOn: [schema, role, ...after] });
            for (const [key, role, roleName] of [["app", app, names.appRole], ["readonly", readonly, names.readonlyRole]] as const) {
                onAcl(`schema ${schemaName}`, (after) => new postgresql.Grant(`${name}-${schemaName}-${key}-usage`, {
                    database, schema: schemaName, role: roleName, objectType: "schema", privileges: ["USAGE"],
                }, afterSchema(role, after)));
            }
            // One pg_default_acl row per owner, schema and object type holds every grantee's defaults.
            const defaults = (key: string, role: postgresql.Role, roleName: string, objectType: string, privileges: string[]) =>
                onAcl(`defaults ${schemaName} ${objectType}`, (after) => new postgresql.DefaultPrivileges(`${name}-${schemaName}-${key}-default-${objectType}s`, {
                    database, schema: schemaName, owner: names.ownerRole, role: roleName, objectType, privileges,
                }, afterSchema(role, after)));
            defaults("app", app, names.appRole, "table", schemaName === "audit" ? APP_AUDIT_TABLE_PRIVILEGES : APP_TABLE_PRIVILEGES);
            defaults("app", app, names.appRole, "sequence", APP_SEQUENCE_PRIVILEGES);
            defaults("readonly", readonly, names.readonlyRole, "table", READONLY_TABLE_PRIVILEGES);
        }

        if (args.backup.buckets) {
            this.backups = new TenantBackupBucket(`${name}-backups`, {
                tenantId: tenant.id,
                stack: args.stack,
                tags: { tenant: tenant.id, plan: tenant.plan, server: tenant.server, "managed-by": "tenantdb" },
                retentionDays: tenant.backupRetentionDays,
                noncurrentVersionDays: args.backup.noncurrentVersionDays,
                backupRoleName: args.backup.roleName,
            }, { parent: this });
        }
        this.registerOutputs({ database: names.database });
    }

    /** A connection string for one of the tenant's login roles; always a secret. */
    connectionString(role: "app" | "readonly" | "migrator", host: pulumi.Input<string>, port: pulumi.Input<number>, sslmode: string): pulumi.Output<string> {
        const user = { app: this.names.appRole, readonly: this.names.readonlyRole, migrator: this.names.migratorRole }[role];
        const secret = { app: this.appPassword, readonly: this.readonlyPassword, migrator: this.migratorPassword }[role];
        return pulumi.secret(pulumi.interpolate`postgresql://${user}:${secret}@${host}:${port}/${this.names.database}?sslmode=${sslmode}`);
    }
}
