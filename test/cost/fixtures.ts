/** Contract-shaped planned resources for cost tests (the shapes the Pulumi program declares). */
import { PlannedResource } from "../../src/cost/graph";

export function rdsServer(server: string, inputs: Record<string, unknown>, dedicatedTo?: string): PlannedResource[] {
    const tags = { server, "managed-by": "tenantdb", ...(dedicatedTo ? { tenant: dedicatedTo, plan: "enterprise" } : {}) };
    return [
        { type: "tenantdb:index:RdsServer", name: `server-${server}`, inputs: {} },
        { type: "aws:rds/parameterGroup:ParameterGroup", name: `server-${server}-parameters`, inputs: { family: "postgres16", tags } },
        {
            type: "aws:rds/instance:Instance",
            name: `server-${server}`,
            inputs: {
                engine: "postgres",
                storageType: "gp3",
                multiAz: false,
                backupRetentionPeriod: 7,
                performanceInsightsEnabled: true,
                manageMasterUserPassword: true,
                ...inputs,
                tags,
            },
        },
        { type: "pulumi:providers:postgresql", name: `server-${server}-postgresql`, inputs: {} },
        { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: `server-${server}-cpu-high`, inputs: { period: 300, tags } },
        { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: `server-${server}-storage-low`, inputs: { period: 300, tags } },
        { type: "aws:cloudwatch/metricAlarm:MetricAlarm", name: `server-${server}-connections-high`, inputs: { period: 300, tags } },
        // The program's dashboard carries no tags: it belongs to its server by name.
        { type: "aws:cloudwatch/dashboard:Dashboard", name: `server-${server}-dashboard`, inputs: { dashboardName: `tenantdb-dev-server-${server}` } },
    ];
}

export interface TenantOptions {
    readonly plan?: "standard" | "enterprise";
    readonly connectionLimit?: number;
    readonly retentionDays?: number;
    readonly noncurrentDays?: number;
    readonly buckets?: boolean;
}

export function tenant(id: string, server: string, options: TenantOptions = {}): PlannedResource[] {
    const tags = { tenant: id, plan: options.plan ?? "standard", server, "managed-by": "tenantdb" };
    const name = `tenant-${id}`;
    const graph: PlannedResource[] = [
        { type: "tenantdb:index:TenantDatabase", name, inputs: {} },
        { type: "postgresql:index/role:Role", name: `${name}-owner`, inputs: { name: `erp_${id}_owner` } },
        { type: "random:index/randomPassword:RandomPassword", name: `${name}-app-password`, inputs: { length: 32 } },
        { type: "postgresql:index/database:Database", name: `${name}-database`, inputs: { name: `erp_${id}`, connectionLimit: options.connectionLimit ?? 50 } },
    ];
    if (options.buckets ?? true) {
        graph.push(
            { type: "tenantdb:index:TenantBackupBucket", name: `${name}-backups`, inputs: {} },
            { type: "aws:kms/key:Key", name: `${name}-backups-key`, inputs: { enableKeyRotation: true, tags } },
            { type: "aws:kms/alias:Alias", name: `${name}-backups-key-alias`, inputs: { name: `alias/tenantdb/dev/${id}` } },
            { type: "aws:s3/bucket:Bucket", name: `${name}-backups`, inputs: { bucketPrefix: `tdb-dev-${id}-`, tags } },
            { type: "aws:s3/bucketVersioning:BucketVersioning", name: `${name}-backups-versioning`, inputs: { bucket: `tdb-dev-${id}-0000000001`, versioningConfiguration: { status: "Enabled" } } },
            { type: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", name: `${name}-backups-encryption`, inputs: {} },
            { type: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name: `${name}-backups-public-access-block`, inputs: {} },
            {
                type: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                name: `${name}-backups-lifecycle`,
                inputs: {
                    bucket: `tdb-dev-${id}-0000000001`,
                    rules: [{ id: "expire-backups", status: "Enabled", filter: { prefix: "" }, expiration: { days: options.retentionDays ?? 30 }, noncurrentVersionExpiration: { noncurrentDays: options.noncurrentDays ?? 7 } }],
                },
            },
            { type: "aws:s3/bucketPolicy:BucketPolicy", name: `${name}-backups-tls-only`, inputs: {} },
            { type: "aws:iam/policy:Policy", name: `${name}-backups-job-policy`, inputs: { tags } },
        );
    }
    return graph;
}

/** Rounds to cents, as outputs do. */
export function cents(usd: number): number {
    return Math.round(usd * 100 + (usd >= 0 ? 1e-9 : -1e-9)) / 100;
}
