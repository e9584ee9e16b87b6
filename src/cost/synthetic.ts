/**
 * A synthetic planned resource graph shaped like the Pulumi program's (the contract in
 * `types.ts`): shared servers with standard tenants, dedicated servers for enterprise tenants,
 * each server an RdsServer component and each tenant a TenantDatabase (its database, roles,
 * grants and passwords, and a TenantBackupBucket with its bucket, KMS key and IAM policy), with
 * URNs and parents as the engine gives them. For the benchmark and tests; the real graph comes
 * from the program.
 */
import { serverComponentName, tenantComponentName, tenantNames } from "../naming";
import { TYPES } from "./graph";
import { PlannedResource } from "./types";

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

/** URN of the root stack of a synthetic graph. */
export function rootStackUrn(stack = "synthetic", project = "tenantdb"): string {
    return `urn:pulumi:${stack}::${project}::${TYPES.rootStack}::${project}-${stack}`;
}

/**
 * A planned resource under `parent` (a resource of the graph, or the root stack's URN), with its
 * URN built as the engine builds it: the parent's qualified type, then its own type, except
 * under the root stack.
 */
export function plannedChild(
    parent: PlannedResource | string,
    type: string,
    name: string,
    inputs: Record<string, unknown> = {},
): PlannedResource {
    const parentUrn = typeof parent === "string" ? parent : parent.urn!;
    const [stackPart, project, parentType] = parentUrn.split("::");
    const qualifiedType = parentType === TYPES.rootStack ? type : `${parentType}$${type}`;
    return { type, name, urn: `${stackPart}::${project}::${qualifiedType}::${name}`, parent: parentUrn, inputs };
}

const ROLE = "postgresql:index/role:Role";
const GRANT = "postgresql:index/grant:Grant";
const PASSWORD = "random:index/randomPassword:RandomPassword";

/** A child of a component, named after it (`<component>-<part>`), as the program names children. */
function part(component: PlannedResource, type: string, suffix: string, inputs: Record<string, unknown> = {}): PlannedResource {
    return plannedChild(component, type, `${component.name}-${suffix}`, inputs);
}

/** Tenant ids `t0001`, `t0002`, ... */
export function syntheticTenantId(index: number): string {
    return `t${String(index + 1).padStart(4, "0")}`;
}

function rdsServer(root: string, name: string, instanceClass: string, multiAz: boolean, dedicatedTo?: string): PlannedResource[] {
    const tags = { server: name, "managed-by": "tenantdb", ...(dedicatedTo ? { tenant: dedicatedTo } : {}) };
    const component = plannedChild(root, TYPES.rdsServer, serverComponentName(name));
    return [
        component,
        part(component, TYPES.rdsParameterGroup, "parameters", { family: "postgres15", tags }),
        plannedChild(component, TYPES.rdsInstance, component.name, {
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
        }),
        part(component, "pulumi:providers:postgresql", "postgresql"),
        part(component, TYPES.metricAlarm, "cpu-high", { period: 300, tags }),
        part(component, TYPES.metricAlarm, "storage-low", { period: 300, tags }),
        part(component, TYPES.metricAlarm, "connections-high", { period: 300, tags }),
        part(component, TYPES.dashboard, "dashboard", { dashboardName: name }),
    ];
}

function tenantDatabase(root: string, id: string, tags: Record<string, string>, options: SyntheticFleetOptions): PlannedResource[] {
    const names = tenantNames(id);
    const component = plannedChild(root, TYPES.tenantDatabase, tenantComponentName(id));
    const backups = part(component, TYPES.backupBucketComponent, "backups");
    const roles = { owner: names.ownerRole, app: names.appRole, readonly: names.readonlyRole, migrator: names.migratorRole };
    return [
        component,
        part(component, TYPES.pgDatabase, "database", { name: names.database, connectionLimit: options.connectionLimit ?? 50 }),
        ...Object.entries(roles).map(([role, name]) => part(component, ROLE, role, { name })),
        ...["app", "readonly", "migrator"].map((role) => part(component, PASSWORD, `${role}-password`, { length: 32 })),
        ...["connect", "usage", "tables"].map((grant) => part(component, GRANT, `${grant}-grant`, { database: names.database })),
        backups,
        plannedChild(backups, TYPES.bucket, backups.name, { tags }),
        part(backups, TYPES.bucketVersioning, "versioning", { versioningConfiguration: { status: "Enabled" } }),
        part(backups, TYPES.bucketEncryption, "encryption"),
        part(backups, TYPES.bucketPublicAccessBlock, "public-access-block", { blockPublicAcls: true }),
        part(backups, TYPES.bucketLifecycle, "lifecycle", {
            rules: [
                {
                    id: "expire-dumps",
                    status: "Enabled",
                    expiration: { days: options.backupRetentionDays ?? 30 },
                    noncurrentVersionExpiration: { noncurrentDays: 7 },
                },
            ],
        }),
        part(backups, TYPES.bucketPolicy, "tls-only"),
        part(backups, TYPES.kmsKey, "key", { tags }),
        part(backups, TYPES.kmsAlias, "key-alias", { name: `alias/tenantdb/${id}` }),
        part(backups, TYPES.iamPolicy, "job-policy", { tags }),
    ];
}

export function syntheticFleet(options: SyntheticFleetOptions): PlannedResource[] {
    const perServer = options.tenantsPerServer ?? 50;
    const enterpriseEvery = options.enterpriseEvery ?? 0;
    const multiAz = options.multiAz ?? true;
    const root = rootStackUrn();
    const graph: PlannedResource[] = [];
    const declaredServers = new Set<string>();
    const server = (name: string, instanceClass: string, dedicatedTo?: string) => {
        if (declaredServers.has(name)) return;
        declaredServers.add(name);
        graph.push(...rdsServer(root, name, instanceClass, multiAz, dedicatedTo));
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
        graph.push(...tenantDatabase(root, id, { tenant: id, plan, server: serverName, "managed-by": "tenantdb" }, options));
    }
    return graph;
}
