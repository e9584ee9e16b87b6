import * as aws from "@pulumi/aws";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { serverResourceName } from "../src/naming";
import { declareMaintenanceLockdown } from "./maintenance-databases";

/** The instance to run: what tenantdb:servers holds for an `rds` server (README, config reference). */
export interface RdsInstanceSpec {
    readonly engineVersion: string;
    readonly instanceClass: string;
    readonly allocatedStorageGb: number;
    readonly maxAllocatedStorageGb: number;
    readonly storageType: string;
    readonly multiAz: boolean;
    readonly subnetGroupName?: string;
    readonly securityGroupIds: readonly string[];
    readonly publiclyAccessible: boolean;
    readonly backupRetentionDays: number;
    readonly performanceInsights: boolean;
    /** pgaudit.log classes. */
    readonly auditLog: string;
    /** Pins max_connections in the parameter group; RDS's formula for the class otherwise. */
    readonly maxConnections?: number;
    /** SNS topic that receives the alarms. */
    readonly alarmTopicArn?: string;
}

export interface RdsServerArgs {
    readonly server: RdsInstanceSpec;
    /** max_connections the program budgets with (config or RDS's formula for the class). */
    readonly maxConnections: number;
    /** Tags for cost allocation: server, and tenant/plan for a dedicated server. */
    readonly tags: Record<string, string>;
    /** Stack name, so two stacks in one account never share snapshot or dashboard names. */
    readonly stack: string;
    /** AWS region of the instance, for the dashboard's widgets. */
    readonly region: string;
}

/** The admin user RDS creates; its password is managed by RDS in Secrets Manager. */
export const RDS_ADMIN_USER = "tenantdb_admin";

/** Parameters of the server's parameter group: TLS only, connection logging, statement auditing. */
export function rdsParameters(server: RdsInstanceSpec): { name: string; value: string; applyMethod: string }[] {
    const parameters = [
        { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
        { name: "log_connections", value: "1", applyMethod: "immediate" },
        { name: "log_disconnections", value: "1", applyMethod: "immediate" },
        { name: "log_statement", value: "ddl", applyMethod: "immediate" },
        { name: "password_encryption", value: "scram-sha-256", applyMethod: "immediate" },
        { name: "shared_preload_libraries", value: "pg_stat_statements,pgaudit", applyMethod: "pending-reboot" },
        { name: "pgaudit.log", value: server.auditLog, applyMethod: "immediate" },
        { name: "pgaudit.log_parameter", value: "0", applyMethod: "immediate" },
    ];
    if (server.maxConnections !== undefined) {
        parameters.push({ name: "max_connections", value: String(server.maxConnections), applyMethod: "pending-reboot" });
    }
    return parameters;
}

/**
 * One RDS for PostgreSQL instance that hosts tenant databases, with its parameter group,
 * CloudWatch alarms and dashboard, the `postgresql.Provider` every tenant on it uses, and its
 * maintenance databases closed to PUBLIC (the master user owns them on RDS).
 */
export class RdsServer extends pulumi.ComponentResource {
    public readonly instance: aws.rds.Instance;
    public readonly provider: postgresql.Provider;
    public readonly host: pulumi.Output<string>;
    public readonly port: pulumi.Output<number>;

    constructor(name: string, args: RdsServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenantdb:index:RdsServer", name, {}, { protect: true, ...opts });
        const { server, tags } = args;
        // Everything protected: a server (or an enterprise tenant) leaving the config stops `up`
        // before the engine deletes its parameter group or alarms ahead of the protected instance.
        const child = { parent: this, protect: true };
        const major = server.engineVersion.split(".")[0];

        const parameterGroup = new aws.rds.ParameterGroup(
            `${name}-parameters`,
            {
                family: `postgres${major}`,
                description: `tenantdb server ${name}: TLS only, connection and statement auditing`,
                parameters: rdsParameters(server),
                tags,
            },
            child,
        );

        this.instance = new aws.rds.Instance(
            `${name}`,
            {
                engine: "postgres",
                engineVersion: server.engineVersion,
                instanceClass: server.instanceClass,
                allocatedStorage: server.allocatedStorageGb,
                maxAllocatedStorage: server.maxAllocatedStorageGb,
                storageType: server.storageType,
                storageEncrypted: true,
                multiAz: server.multiAz,
                username: RDS_ADMIN_USER,
                manageMasterUserPassword: true,
                parameterGroupName: parameterGroup.name,
                dbSubnetGroupName: server.subnetGroupName,
                vpcSecurityGroupIds: [...server.securityGroupIds],
                publiclyAccessible: server.publiclyAccessible,
                backupRetentionPeriod: server.backupRetentionDays,
                deletionProtection: true,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: serverResourceName(args.stack, name, "final"),
                copyTagsToSnapshot: true,
                performanceInsightsEnabled: server.performanceInsights,
                enabledCloudwatchLogsExports: ["postgresql"],
                autoMinorVersionUpgrade: true,
                applyImmediately: false,
                tags,
            },
            { ...child, protect: true, retainOnDelete: true },
        );

        this.host = this.instance.address;
        this.port = this.instance.port;
        // RDS keeps the admin password in Secrets Manager (and may rotate it); read the current one.
        const adminPassword = this.instance.masterUserSecrets.apply((secrets) => {
            const arn = secrets?.[0]?.secretArn;
            if (!arn) {
                throw new pulumi.ResourceError(
                    `RDS reports no managed admin secret for server ${name}; check manageMasterUserPassword on the instance`,
                    this.instance,
                );
            }
            return aws.secretsmanager
                .getSecretVersionOutput({ secretId: arn }, { parent: this })
                .secretString.apply((value) => JSON.parse(value).password as string);
        });
        this.provider = new postgresql.Provider(
            `${name}-postgresql`,
            {
                host: this.host,
                port: this.port,
                username: RDS_ADMIN_USER,
                password: pulumi.secret(adminPassword),
                database: "postgres",
                superuser: false,
                sslmode: "require",
                connectTimeout: 15,
                maxConnections: 4,
                expectedVersion: server.engineVersion,
            },
            child,
        );
        declareMaintenanceLockdown(name, { ...child, provider: this.provider });

        this.alarms(name, args);
        this.registerOutputs({ host: this.host, port: this.port });
    }

    private alarms(name: string, { server, maxConnections, tags, stack, region }: RdsServerArgs): void {
        const child = { parent: this, protect: true };
        const dimensions = { DBInstanceIdentifier: this.instance.identifier };
        const actions = server.alarmTopicArn ? [server.alarmTopicArn] : [];
        const alarm = (key: string, metricName: string, comparisonOperator: string, threshold: number, description: string) =>
            new aws.cloudwatch.MetricAlarm(
                `${name}-${key}`,
                {
                    namespace: "AWS/RDS",
                    metricName,
                    dimensions,
                    statistic: "Average",
                    period: 300,
                    evaluationPeriods: 3,
                    comparisonOperator,
                    threshold,
                    alarmDescription: description,
                    alarmActions: actions,
                    okActions: actions,
                    treatMissingData: "breaching",
                    tags,
                },
                child,
            );
        alarm("cpu-high", "CPUUtilization", "GreaterThanThreshold", 80, `${name}: CPU above 80% for 15 minutes`);
        // Ten percent of the allocated storage, in bytes, as CloudWatch reports FreeStorageSpace.
        alarm(
            "storage-low",
            "FreeStorageSpace",
            "LessThanThreshold",
            server.allocatedStorageGb * 1024 ** 3 * 0.1,
            `${name}: less than 10% of allocated storage free`,
        );
        alarm(
            "connections-high",
            "DatabaseConnections",
            "GreaterThanThreshold",
            Math.floor(maxConnections * 0.8),
            `${name}: connections above 80% of max_connections (${maxConnections})`,
        );

        new aws.cloudwatch.Dashboard(
            `${name}-dashboard`,
            {
                dashboardName: serverResourceName(stack, name),
                dashboardBody: this.instance.identifier.apply((id) =>
                    JSON.stringify({
                        widgets: ["CPUUtilization", "FreeStorageSpace", "DatabaseConnections", "ReadIOPS", "WriteIOPS"].map(
                            (metric, index) => ({
                                type: "metric",
                                x: (index % 3) * 8,
                                y: Math.floor(index / 3) * 6,
                                width: 8,
                                height: 6,
                                properties: {
                                    title: metric,
                                    region,
                                    stat: "Average",
                                    period: 300,
                                    metrics: [["AWS/RDS", metric, "DBInstanceIdentifier", id]],
                                },
                            }),
                        ),
                    }),
                ),
            },
            child,
        );
    }
}
