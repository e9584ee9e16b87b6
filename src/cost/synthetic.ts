/**
 * A synthetic planned resource graph shaped like the Pulumi program's (the contract in
 * `graph.ts`): shared servers with standard tenants, dedicated servers for enterprise tenants,
 * and every tenant's database, roles, grants, passwords, backup bucket, KMS key and IAM policy.
 * For the benchmark and tests; the real graph comes from the program.
 */
import { PlannedResource, TYPES } from "./graph";

export interface SyntheticFleetOptions {
    /** Number of tenants. */
    readonly tenants: number;
    /** Standard tenants per shared server. Defaults to 50. */
    readonly tenantsPerServer?: number;
    /** Every n-th tenant is enterprise, on its own dedicated server; 0 for none. Defaults to 0. */
    readonly enterpriseEvery?: number;
    /** Class of shared servers. Defaults to "db.m6g.large". */
    readonly sharedInstanceClass?: string;
    /** Class of dedicated servers. Defaults to "db.r6g.large". */
    readonly dedicatedInstanceClass?: string;
    /** Multi-AZ for every server. Defaults to true. */
    readonly multiAz?: boolean;
    /** Lifecycle expiration of backup buckets, in days. Defaults to 30. */
    readonly backupRetentionDays?: number;
    /** connectionLimit of every tenant database. Defaults to 50. */
    readonly connectionLimit?: number;
}

/** Tenant ids `t0001`, `t0002`, ... */
export function syntheticTenantId(index: number): string {
    return `t${String(index + 1).padStart(4, "0")}`;
}

export function syntheticFleet(options: SyntheticFleetOptions): PlannedResource[] {
    const perServer = options.tenantsPerServer ?? 50;
    const enterpriseEvery = options.enterpriseEvery ?? 0;
    const multiAz = options.multiAz ?? true;
    const graph: PlannedResource[] = [];
    const declaredServers = new Set<string>();

    const server = (name: string, instanceClass: string, dedicatedTo?: string) => {
        if (declaredServers.has(name)) return;
        declaredServers.add(name);
        const tags = { server: name, "managed-by": "tenantdb", ...(dedicatedTo ? { tenant: dedicatedTo } : {}) };
        graph.push(
            { type: TYPES.rdsParameterGroup, name: `${name}-params`, inputs: { family: "postgres15", tags } },
            {
                type: TYPES.rdsInstance,
                name: `${name}-db`,
                inputs: {
                    instanceClass,
                    allocatedStorage: 100,
                    maxAllocatedStorage: 500,
                    storageType: "gp3",
                    multiAz,
                    backupRetentionPeriod: 7,
                    performanceInsightsEnabled: true,
                    performanceInsightsRetentionPeriod: 7,
                    manageMasterUserPassword: true,
                    tags,
                },
            },
            { type: "pulumi:providers:postgresql", name: `${name}-postgresql`, inputs: {} },
            { type: TYPES.metricAlarm, name: `${name}-cpu`, inputs: { period: 300, tags } },
            { type: TYPES.metricAlarm, name: `${name}-free-storage`, inputs: { period: 300, tags } },
            { type: TYPES.metricAlarm, name: `${name}-connections`, inputs: { period: 300, tags } },
            { type: TYPES.dashboard, name: `${name}-dashboard`, inputs: { dashboardName: name } },
        );
    };

    let sharedIndex = 0;
    let onCurrentShared = 0;
    for (let i = 0; i < options.tenants; i++) {
        const id = syntheticTenantId(i);
        const enterprise = enterpriseEvery > 0 && (i + 1) % enterpriseEvery === 0;
        let serverName: string;
        if (enterprise) {
            serverName = `dedicated-${id}`;
            server(serverName, options.dedicatedInstanceClass ?? "db.r6g.large", id);
        } else {
            if (onCurrentShared === perServer) {
                sharedIndex += 1;
                onCurrentShared = 0;
            }
            onCurrentShared += 1;
            serverName = `shared-${sharedIndex + 1}`;
            server(serverName, options.sharedInstanceClass ?? "db.m6g.large");
        }
        const plan = enterprise ? "enterprise" : "standard";
        const tags = { tenant: id, plan, server: serverName, "managed-by": "tenantdb" };
        graph.push(
            { type: "tenantdb:index:TenantDatabase", name: id, inputs: {} },
            { type: TYPES.pgDatabase, name: `${id}-database`, inputs: { name: `erp_${id}`, connectionLimit: options.connectionLimit ?? 50 } },
            ...["owner", "app", "readonly", "migrator"].map((role) => ({ type: "postgresql:index/role:Role", name: `${id}-${role}-role`, inputs: { name: `erp_${id}_${role}` } })),
            ...["app", "readonly", "migrator"].map((role) => ({ type: "random:index/randomPassword:RandomPassword", name: `${id}-${role}-password`, inputs: { length: 32 } })),
            ...["connect", "usage", "tables"].map((grant) => ({ type: "postgresql:index/grant:Grant", name: `${id}-${grant}-grant`, inputs: { database: `erp_${id}` } })),
            { type: TYPES.bucket, name: `${id}-backups`, inputs: { tags } },
            { type: TYPES.bucketVersioning, name: `${id}-backups-versioning`, inputs: { versioningConfiguration: { status: "Enabled" } } },
            { type: TYPES.bucketEncryption, name: `${id}-backups-encryption`, inputs: {} },
            { type: TYPES.bucketPublicAccessBlock, name: `${id}-backups-public-access`, inputs: { blockPublicAcls: true } },
            {
                type: TYPES.bucketLifecycle,
                name: `${id}-backups-lifecycle`,
                inputs: {
                    rules: [
                        {
                            id: "expire-dumps",
                            status: "Enabled",
                            expiration: { days: options.backupRetentionDays ?? 30 },
                            noncurrentVersionExpiration: { noncurrentDays: 7 },
                        },
                    ],
                },
            },
            { type: TYPES.bucketPolicy, name: `${id}-backups-policy`, inputs: {} },
            { type: TYPES.kmsKey, name: `${id}-key`, inputs: { tags } },
            { type: TYPES.kmsAlias, name: `${id}-key-alias`, inputs: { name: `alias/tenantdb/${id}` } },
            { type: TYPES.iamPolicy, name: `${id}-backup-policy`, inputs: { tags } },
        );
    }
    return graph;
}
