/**
 * The few facts the cost preview reads from a planned graph (src/cost/types.ts): type tokens,
 * which types cost nothing, tags, typed inputs, and the parts of a URN.
 */
import { PlannedResource, TenantdbTags } from "./types";

/** Type tokens the pricing reads. */
export const TYPES = {
    rdsInstance: "aws:rds/instance:Instance",
    rdsParameterGroup: "aws:rds/parameterGroup:ParameterGroup",
    bucket: "aws:s3/bucket:Bucket",
    bucketVersioning: "aws:s3/bucketVersioning:BucketVersioning",
    bucketEncryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    bucketPublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    bucketLifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    kmsKey: "aws:kms/key:Key",
    kmsAlias: "aws:kms/alias:Alias",
    iamPolicy: "aws:iam/policy:Policy",
    iamRolePolicyAttachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    secret: "aws:secretsmanager/secret:Secret",
    metricAlarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
    dashboard: "aws:cloudwatch/dashboard:Dashboard",
    pgDatabase: "postgresql:index/database:Database",
    tenantDatabase: "tenantdb:index:TenantDatabase",
    backupBucketComponent: "tenantdb:index:TenantBackupBucket",
    rdsServer: "tenantdb:index:RdsServer",
    rootStack: "pulumi:pulumi:Stack",
} as const;

/** Types that cost nothing by themselves (configuration objects, or billed through another resource). */
const FREE_TYPES: ReadonlySet<string> = new Set([
    TYPES.rdsParameterGroup,
    TYPES.bucketVersioning,
    TYPES.bucketEncryption,
    TYPES.bucketPublicAccessBlock,
    TYPES.bucketLifecycle,
    TYPES.bucketPolicy,
    TYPES.kmsAlias,
    TYPES.iamPolicy,
    TYPES.iamRolePolicyAttachment,
]);

/** Whole packages and kinds that cost nothing: objects inside PostgreSQL, random values, providers, components. */
const FREE_PREFIXES = ["postgresql:", "random:", "pulumi:providers:", "tenantdb:", "pulumi:pulumi:Stack"] as const;

/** True for a type that costs nothing. A type that is neither free nor priced is reported as unpriced. */
export function isFreeType(type: string): boolean {
    return FREE_TYPES.has(type) || FREE_PREFIXES.some((prefix) => type.startsWith(prefix));
}

/** Reads `tags.tenant`, `tags.plan` and `tags.server`; absent or non-string values read as undefined. */
export function readTags(resource: PlannedResource): TenantdbTags {
    const tags = resource.inputs.tags;
    if (tags === null || typeof tags !== "object") return {};
    const record = tags as Record<string, unknown>;
    const text = (key: string) => (typeof record[key] === "string" && record[key] !== "" ? (record[key] as string) : undefined);
    return { tenant: text("tenant"), plan: text("plan"), server: text("server") };
}

/** A number input, or undefined when absent (unknown at preview time) or not a finite number. */
export function numberInput(resource: PlannedResource, key: string): number | undefined {
    const value = resource.inputs[key];
    if (typeof value === "number" && Number.isFinite(value)) return value;
    if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
    return undefined;
}

/** A boolean input, or undefined when absent. Accepts the strings "true"/"false" (engine events may carry them). */
export function booleanInput(resource: PlannedResource, key: string): boolean | undefined {
    const value = resource.inputs[key];
    if (typeof value === "boolean") return value;
    if (value === "true") return true;
    if (value === "false") return false;
    return undefined;
}

/** A string input, or undefined. */
export function stringInput(resource: PlannedResource, key: string): string | undefined {
    const value = resource.inputs[key];
    return typeof value === "string" && value !== "" ? value : undefined;
}

/** Logical name from a URN (`urn:pulumi:stack::project::type$type::name` -> `name`). */
export function nameFromUrn(urn: string): string {
    const at = urn.lastIndexOf("::");
    return at === -1 ? urn : urn.slice(at + 2);
}

/** The resource's own type from a URN (`urn:pulumi:stack::project::parentType$type::name` -> `type`). */
export function typeFromUrn(urn: string): string {
    const qualifiedType = urn.split("::")[2] ?? "";
    return qualifiedType.slice(qualifiedType.lastIndexOf("$") + 1);
}
