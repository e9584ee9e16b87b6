import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { backupBucketPrefix, backupKeyAlias } from "../src/naming";

export interface TenantBackupBucketArgs {
    /** Tenant id; used in tags, the key alias and the bucket name prefix. */
    readonly tenantId: string;
    /** Stack name, so two stacks in one account never share names. */
    readonly stack: string;
    /** Tags for cost allocation (tenant, plan, server). */
    readonly tags: Record<string, string>;
    /** Days a backup is kept before the lifecycle expires it. */
    readonly retentionDays: number;
    /** Days a replaced or deleted object version is kept. */
    readonly noncurrentVersionDays: number;
    /** IAM role of the backup job; the tenant's policy is attached to it when set. */
    readonly backupRoleName?: string;
    /**
     * The tenant is retired: nothing is protected, and erasing it deletes the key (KMS schedules
     * the deletion: crypto-erasure of every backup) and the job's policy. The bucket and its
     * settings are still retained, so the lifecycle expires the unreadable backups.
     */
    readonly retired?: boolean;
}

/** Statements of the bucket policy: refuse every request that does not use TLS. */
export function tlsOnlyPolicy(bucketArn: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "DenyInsecureTransport",
                Effect: "Deny",
                Principal: "*",
                Action: "s3:*",
                Resource: [bucketArn, `${bucketArn}/*`],
                Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
        ],
    });
}

/**
 * What the backup job may do with this tenant's bucket and key, and nothing else. No
 * s3:DeleteObject: backups are removed only by the lifecycle, so a leaked job credential
 * cannot destroy a tenant's backup history.
 */
export function backupJobPolicy(bucketArn: string, keyArn: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Sid: "ListTenantBucket", Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: bucketArn },
            {
                Sid: "ReadWriteTenantBackups",
                Effect: "Allow",
                Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                Resource: `${bucketArn}/*`,
            },
            // SSE-KMS needs GenerateDataKey to write and Decrypt to read, and only through S3.
            {
                Sid: "UseTenantKeyThroughS3",
                Effect: "Allow",
                Action: ["kms:Decrypt", "kms:GenerateDataKey"],
                Resource: keyArn,
                Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
            },
        ],
    });
}

/**
 * A tenant's own backup bucket: SSE-KMS with the tenant's own key (rotated yearly), versioned,
 * closed to the public, TLS only, with backups expired after the retention. Protected and
 * retained on delete: dropping a tenant from config never deletes its backups.
 */
export class TenantBackupBucket extends pulumi.ComponentResource {
    public readonly bucket: aws.s3.Bucket;
    public readonly key: aws.kms.Key;
    public readonly policy: aws.iam.Policy;

    constructor(name: string, args: TenantBackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        const kept = !args.retired;
        super("tenantdb:index:TenantBackupBucket", name, {}, { protect: kept, ...opts });
        const keep = { parent: this, protect: kept, retainOnDelete: true };
        const erasable = { parent: this, protect: kept, retainOnDelete: kept };
        // Every setting of a kept bucket is kept too (offboarding must not leave the bucket public,
        // unencrypted by the tenant's key, unversioned or without its lifecycle), and protected, so
        // a tenant leaving the config stops `up` before the engine deletes or forgets any of them.

        this.key = new aws.kms.Key(
            `${name}-key`,
            {
                description: `tenantdb ${args.stack}: backups of tenant ${args.tenantId}`,
                enableKeyRotation: true,
                deletionWindowInDays: 30,
                tags: args.tags,
            },
            erasable,
        );
        new aws.kms.Alias(
            `${name}-key-alias`,
            {
                name: backupKeyAlias(args.stack, args.tenantId),
                targetKeyId: this.key.keyId,
            },
            erasable,
        );

        // bucketPrefix (at most 37 characters) plus AWS's random suffix keeps names globally unique.
        this.bucket = new aws.s3.Bucket(
            `${name}`,
            {
                bucketPrefix: backupBucketPrefix(args.stack, args.tenantId),
                forceDestroy: false,
                tags: args.tags,
            },
            keep,
        );
        new aws.s3.BucketVersioning(
            `${name}-versioning`,
            {
                bucket: this.bucket.id,
                versioningConfiguration: { status: "Enabled" },
            },
            keep,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                bucket: this.bucket.id,
                rules: [
                    {
                        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: this.key.arn },
                        bucketKeyEnabled: true,
                    },
                ],
            },
            keep,
        );
        const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access-block`,
            {
                bucket: this.bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            keep,
        );
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-lifecycle`,
            {
                bucket: this.bucket.id,
                rules: [
                    {
                        id: "expire-backups",
                        status: "Enabled",
                        filter: { prefix: "" },
                        expiration: { days: args.retentionDays },
                        noncurrentVersionExpiration: { noncurrentDays: args.noncurrentVersionDays },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                    },
                ],
            },
            keep,
        );
        new aws.s3.BucketPolicy(
            `${name}-tls-only`,
            {
                bucket: this.bucket.id,
                policy: this.bucket.arn.apply(tlsOnlyPolicy),
            },
            { ...keep, dependsOn: [publicAccessBlock] },
        );

        this.policy = new aws.iam.Policy(
            `${name}-job-policy`,
            {
                description: `tenantdb ${args.stack}: backup job access to tenant ${args.tenantId}'s bucket and key only`,
                policy: pulumi.all([this.bucket.arn, this.key.arn]).apply(([bucketArn, keyArn]) => backupJobPolicy(bucketArn, keyArn)),
                tags: args.tags,
            },
            erasable,
        );
        if (args.backupRoleName) {
            new aws.iam.RolePolicyAttachment(
                `${name}-job-policy-attachment`,
                {
                    role: args.backupRoleName,
                    policyArn: this.policy.arn,
                },
                erasable,
            );
        }
        this.registerOutputs({ bucket: this.bucket.id, keyArn: this.key.arn, policyArn: this.policy.arn });
    }
}
