/**
 * The whole program: servers first, then one TenantDatabase per tenant on its server's provider.
 * index.ts reads the config and calls declareStack; tests and the offline evaluator call it too.
 */
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { ExternalServer } from "../../components/external-server";
import { RdsServer } from "../../components/rds-server";
import { DeclaredLifecycle, TenantDatabase } from "../../components/tenant-database";
import { ResolvedServer, ResolvedTenant, StackModel, serverMaxConnections } from "../config/model";
import { BackupConfig } from "../config/schema";
import { TenantBackupBucketArgs } from "../../components/backup-bucket";
import { ServerOutput, StackOutputValues, TenantOutput, TenantSecretsOutput } from "./outputs";

interface DeclaredServer {
    readonly provider: postgresql.Provider;
    readonly host: pulumi.Output<string>;
    readonly port: pulumi.Output<number>;
    readonly sslmode: string;
}

/** The stack outputs as the program declares them (their values: src/program/outputs.ts). */
export type StackOutputs = { readonly [K in keyof StackOutputValues]: pulumi.Output<StackOutputValues[K]> };

function declareServer(
    server: ResolvedServer,
    serverPasswords: pulumi.Output<Record<string, string>>,
    { stack, region }: StackContext,
): DeclaredServer {
    if (server.kind === "rds") {
        const tags: Record<string, string> = { server: server.name, "managed-by": "tenantdb" };
        if (server.dedicatedTo) Object.assign(tags, { tenant: server.dedicatedTo, plan: "enterprise" });
        const rds = new RdsServer(server.componentName, { server, maxConnections: serverMaxConnections(server)!, tags, stack, region });
        return { provider: rds.provider, host: rds.host, port: rds.port, sslmode: "require" };
    }
    const external = new ExternalServer(server.componentName, {
        host: server.host,
        port: server.port,
        adminUser: server.adminUser,
        password: serverPasswords.apply((passwords) => passwords[server.name]),
        superuser: server.superuser,
        sslmode: server.sslmode,
    });
    return { provider: external.provider, host: pulumi.output(server.host), port: pulumi.output(server.port), sslmode: server.sslmode };
}

/** What the program takes from its environment rather than from tenantdb config. */
export interface StackContext {
    /** The stack name (part of AWS names, so two stacks in one account never collide). */
    readonly stack: string;
    /** The AWS region RDS servers live in (aws:region). */
    readonly region: string;
}

/** The Pulumi stack the program runs in: its name and `aws:region` (default us-east-1, the provider's). */
export function currentStackContext(): StackContext {
    return { stack: pulumi.getStack(), region: new pulumi.Config("aws").get("region") ?? process.env.AWS_REGION ?? "us-east-1" };
}

/** A tenant's backup bucket: tagged for cost allocation, kept as long as the tenant's retention says. */
function backupArgs(tenant: ResolvedTenant, backup: BackupConfig, stack: string): TenantBackupBucketArgs {
    return {
        tenantId: tenant.id,
        stack,
        tags: { tenant: tenant.id, plan: tenant.plan, server: tenant.server, "managed-by": "tenantdb" },
        retentionDays: tenant.backupRetentionDays,
        noncurrentVersionDays: backup.noncurrentVersionDays,
        backupRoleName: backup.roleName,
    };
}

export function declareStack(
    model: StackModel,
    serverPasswords: pulumi.Output<Record<string, string>>,
    context: StackContext,
): StackOutputs {
    const { stack } = context;
    const declared = new Map<string, DeclaredServer>();
    for (const server of model.servers.values()) declared.set(server.name, declareServer(server, serverPasswords, context));

    const tenants: Record<string, pulumi.Output<TenantOutput>> = {};
    const secrets: Record<string, pulumi.Output<TenantSecretsOutput>> = {};
    // Per server, the last database declared: the next tenant's database waits for it (see previousDatabase).
    const lastDatabase = new Map<string, postgresql.Database>();
    // An erased tenant is declared no more: the engine deletes what its retirement unprotected.
    for (const tenant of model.tenants.filter((t) => t.state !== "erased")) {
        const server = declared.get(tenant.server)!;
        const component = new TenantDatabase(tenant.componentName, {
            names: tenant.names,
            lifecycle: tenant.state as DeclaredLifecycle,
            connectionLimit: tenant.connectionLimit,
            extensions: tenant.extensions,
            statementTimeoutMs: tenant.statementTimeoutMs,
            locale: model.servers.get(tenant.server)!.locale,
            provider: server.provider,
            previousDatabase: lastDatabase.get(tenant.server),
            backups: model.backup.buckets ? backupArgs(tenant, model.backup, stack) : undefined,
        });
        lastDatabase.set(tenant.server, component.database);
        const names = component.names;
        tenants[tenant.id] = pulumi.output({
            database: names.database,
            server: tenant.server,
            plan: tenant.plan,
            state: tenant.state,
            host: server.host,
            port: server.port,
            sslmode: server.sslmode,
            roles: { owner: names.ownerRole, app: names.appRole, readonly: names.readonlyRole, migrator: names.migratorRole },
            bucket: component.bucketName,
            kmsKeyArn: component.kmsKeyArn,
            backupPolicyArn: component.backupPolicyArn,
        });
        secrets[tenant.id] = pulumi.output({
            appPassword: component.appPassword,
            readonlyPassword: component.readonlyPassword,
            migratorPassword: component.migratorPassword,
            appConnectionString: component.connectionString("app", server.host, server.port, server.sslmode),
            readonlyConnectionString: component.connectionString("readonly", server.host, server.port, server.sslmode),
            migratorConnectionString: component.connectionString("migrator", server.host, server.port, server.sslmode),
        });
    }

    const servers: Record<string, pulumi.Output<ServerOutput>> = {};
    for (const server of model.servers.values()) {
        const endpoint = declared.get(server.name)!;
        servers[server.name] = pulumi.output({
            kind: server.kind,
            host: endpoint.host,
            port: endpoint.port,
            maxConnections: serverMaxConnections(server)!,
            ...(server.dedicatedTo ? { dedicatedTo: server.dedicatedTo } : {}),
        });
    }
    return {
        tenants: pulumi.output(tenants),
        tenantSecrets: pulumi.secret(pulumi.output(secrets)),
        servers: pulumi.output(servers),
    };
}
