/** Contract-shaped planned resources for cost tests (the shapes, names and parents the Pulumi program declares). */
import { serverComponentName, tenantComponentName, tenantNames } from "../../src/naming";
import { plannedChild, rootStackUrn } from "../../src/cost/synthetic";
import { PlannedResource } from "../../src/cost/types";

/** The root stack of every fixture graph. */
export const ROOT = rootStackUrn("dev");

export function rdsServer(server: string, inputs: Record<string, unknown>, dedicatedTo?: string): PlannedResource[] {
    const tags = { server, "managed-by": "tenantdb", ...(dedicatedTo ? { tenant: dedicatedTo, plan: "enterprise" } : {}) };
    const component = plannedChild(ROOT, "tenantdb:index:RdsServer", serverComponentName(server));
    const child = (type: string, name: string, childInputs: Record<string, unknown>) => plannedChild(component, type, name, childInputs);
    return [
        component,
        child("aws:rds/parameterGroup:ParameterGroup", `${component.name}-parameters`, { family: "postgres16", tags }),
        child("aws:rds/instance:Instance", component.name, {
            engine: "postgres",
            storageType: "gp3",
            multiAz: false,
            backupRetentionPeriod: 7,
            performanceInsightsEnabled: true,
            manageMasterUserPassword: true,
            ...inputs,
            tags,
        }),
        child("pulumi:providers:postgresql", `${component.name}-postgresql`, {}),
        child("aws:cloudwatch/metricAlarm:MetricAlarm", `${component.name}-cpu-high`, { period: 300, tags }),
        child("aws:cloudwatch/metricAlarm:MetricAlarm", `${component.name}-storage-low`, { period: 300, tags }),
        child("aws:cloudwatch/metricAlarm:MetricAlarm", `${component.name}-connections-high`, { period: 300, tags }),
        // The program's dashboard carries no tags: it belongs to its server as a child of its RdsServer.
        child("aws:cloudwatch/dashboard:Dashboard", `${component.name}-dashboard`, { dashboardName: `tenantdb-dev-${component.name}` }),
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
    const names = tenantNames(id);
    const component = plannedChild(ROOT, "tenantdb:index:TenantDatabase", tenantComponentName(id));
    const name = component.name;
    const graph: PlannedResource[] = [
        component,
        plannedChild(component, "postgresql:index/role:Role", `${name}-owner`, { name: names.ownerRole }),
        plannedChild(component, "random:index/randomPassword:RandomPassword", `${name}-app-password`, { length: 32 }),
        plannedChild(component, "postgresql:index/database:Database", `${name}-database`, {
            name: names.database,
            connectionLimit: options.connectionLimit ?? 50,
        }),
    ];
    if (options.buckets ?? true) {
        const backups = plannedChild(component, "tenantdb:index:TenantBackupBucket", `${name}-backups`);
        const child = (type: string, suffix: string, inputs: Record<string, unknown>) =>
            plannedChild(backups, type, `${backups.name}${suffix}`, inputs);
        const bucket = `tdb-dev-${id}-0000000001`;
        graph.push(
            backups,
            child("aws:kms/key:Key", "-key", { enableKeyRotation: true, tags }),
            child("aws:kms/alias:Alias", "-key-alias", { name: `alias/tenantdb/dev/${id}` }),
            child("aws:s3/bucket:Bucket", "", { bucketPrefix: `tdb-dev-${id}-`, tags }),
            child("aws:s3/bucketVersioning:BucketVersioning", "-versioning", { bucket, versioningConfiguration: { status: "Enabled" } }),
            child("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "-encryption", {}),
            child("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "-public-access-block", {}),
            child("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "-lifecycle", {
                bucket,
                rules: [
                    {
                        id: "expire-backups",
                        status: "Enabled",
                        filter: { prefix: "" },
                        expiration: { days: options.retentionDays ?? 30 },
                        noncurrentVersionExpiration: { noncurrentDays: options.noncurrentDays ?? 7 },
                    },
                ],
            }),
            child("aws:s3/bucketPolicy:BucketPolicy", "-tls-only", {}),
            child("aws:iam/policy:Policy", "-job-policy", { tags }),
        );
    }
    return graph;
}

/** Rounds to cents, as outputs do. */
export function cents(usd: number): number {
    return Math.round(usd * 100 + (usd >= 0 ? 1e-9 : -1e-9)) / 100;
}

/**
 * A stack file with one Multi-AZ db.t4g.medium server (shared-1, $100.20 a month) and two tenants,
 * acme (2 GB, $2.3555 of its own) and globex (5 GB, $2.99375): test/cost/cli.test.ts works the figures out.
 */
export const PRICED_STACK_FILE = `config:
  tenantdb:servers:
    shared-1:
      kind: rds
      instanceClass: db.t4g.medium
      allocatedStorageGb: 20
      maxAllocatedStorageGb: 100
      multiAz: true
      backupRetentionDays: 30
      performanceInsights: true
  tenantdb:dedicatedServer:
    instanceClass: db.t4g.medium
    allocatedStorageGb: 20
    maxAllocatedStorageGb: 100
    multiAz: true
    backupRetentionDays: 30
  tenantdb:backup:
    retentionDays: 30
    noncurrentVersionDays: 7
  tenantdb:cost:
    databaseSizeGb: 2
  tenantdb:tenants:
    - id: acme
      server: shared-1
    - id: globex
      server: shared-1
      expectedSizeGb: 5
`;
