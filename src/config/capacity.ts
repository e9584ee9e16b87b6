/**
 * How many connections a server can hold, and how much of that tenants may claim.
 *
 * RDS for PostgreSQL defaults `max_connections` to LEAST({DBInstanceClassMemory/9531392}, 5000)
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections).
 * DBInstanceClassMemory is the class's memory less what the OS and RDS keep, so computing it from
 * the nominal memory below gives an upper bound; the admin headroom absorbs the difference. Set
 * `maxConnections` on the server to pin the parameter (we then write it into the parameter group).
 */

/** Nominal memory in GiB of the instance classes we know. */
const CLASS_MEMORY_GIB: Record<string, number> = {};
for (const family of ["t3", "t4g"]) {
    Object.assign(CLASS_MEMORY_GIB, {
        [`db.${family}.micro`]: 1,
        [`db.${family}.small`]: 2,
        [`db.${family}.medium`]: 4,
        [`db.${family}.large`]: 8,
        [`db.${family}.xlarge`]: 16,
        [`db.${family}.2xlarge`]: 32,
    });
}
for (const family of ["m5", "m6g", "m6i", "m7g", "m7i"]) {
    Object.assign(CLASS_MEMORY_GIB, {
        [`db.${family}.large`]: 8,
        [`db.${family}.xlarge`]: 16,
        [`db.${family}.2xlarge`]: 32,
        [`db.${family}.4xlarge`]: 64,
        [`db.${family}.8xlarge`]: 128,
        [`db.${family}.12xlarge`]: 192,
        [`db.${family}.16xlarge`]: 256,
    });
}
for (const family of ["r5", "r6g", "r6i", "r7g", "r7i"]) {
    Object.assign(CLASS_MEMORY_GIB, {
        [`db.${family}.large`]: 16,
        [`db.${family}.xlarge`]: 32,
        [`db.${family}.2xlarge`]: 64,
        [`db.${family}.4xlarge`]: 128,
        [`db.${family}.8xlarge`]: 256,
        [`db.${family}.12xlarge`]: 384,
        [`db.${family}.16xlarge`]: 512,
    });
}

export function knownInstanceClasses(): string[] {
    return Object.keys(CLASS_MEMORY_GIB).sort();
}

/** RDS's default max_connections for a class, or undefined for a class we do not know. */
export function rdsDefaultMaxConnections(instanceClass: string): number | undefined {
    const gib = CLASS_MEMORY_GIB[instanceClass];
    if (gib === undefined) return undefined;
    return Math.min(Math.floor((gib * 1024 ** 3) / 9531392), 5000);
}

/**
 * Connections kept out of the tenants' budget on every server: superuser/rds_superuser
 * reserved slots, the Pulumi provider, the migration runner's admin checks, backups and
 * monitoring. At least 10, or 10% of max_connections on big servers.
 */
export function adminHeadroom(maxConnections: number): number {
    return Math.max(10, Math.ceil(maxConnections * 0.1));
}

/** What the sum of tenant database connection limits on a server may reach. */
export function tenantConnectionBudget(maxConnections: number): number {
    return maxConnections - adminHeadroom(maxConnections);
}

/**
 * How a tenant's database connection limit is split between its login roles. The migrator
 * and read-only roles get fixed slots so that a saturated application can never lock out a
 * migration or a report; two slots stay free for the admin (the Pulumi provider, backups).
 */
export function roleConnectionLimits(databaseLimit: number): { app: number; readonly: number; migrator: number } {
    const readonly = 5;
    const migrator = 2;
    const admin = 2;
    return { app: databaseLimit - readonly - migrator - admin, readonly, migrator };
}

/** The smallest database connection limit that leaves the app role at least one connection. */
export const MIN_TENANT_CONNECTION_LIMIT = 10;
