/**
 * Mock-runtime outputs for the resources tenantdb declares, so the program can be evaluated
 * with no Pulumi engine and no cloud (pulumi.runtime.setMocks). Each type returns what the real
 * provider would compute (ids, ARNs, endpoints); a type or invoke we do not know throws, so an
 * unexpected resource or call fails loudly instead of passing silently.
 */
import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { READ_STACK_OUTPUTS, READ_STACK_RESOURCE_OUTPUTS } from "./deployed-placement";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/** Letters and digits only, like RandomPassword with special: false. */
function randomAlphanumeric(length: number): string {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = randomBytes(length * 2);
    let out = "";
    for (const byte of bytes) {
        if (byte < 248) out += alphabet[byte % 62];
        if (out.length === length) break;
    }
    return out;
}

type Outputs = (name: string, inputs: Record<string, any>) => { id: string; state: Record<string, unknown> };

const OUTPUTS: Record<string, Outputs> = {
    "pulumi:providers:postgresql": (name) => ({ id: `${name}-id`, state: {} }),
    "pulumi:providers:aws": (name) => ({ id: `${name}-id`, state: {} }),
    "pulumi:providers:random": (name) => ({ id: `${name}-id`, state: {} }),
    "postgresql:index/role:Role": (_n, inputs) => ({ id: inputs.name, state: {} }),
    "postgresql:index/database:Database": (_n, inputs) => ({ id: inputs.name, state: {} }),
    "postgresql:index/schema:Schema": (_n, inputs) => ({ id: `${inputs.database}.${inputs.name}`, state: {} }),
    "postgresql:index/extension:Extension": (_n, inputs) => ({ id: `${inputs.database}.${inputs.name}`, state: {} }),
    "postgresql:index/grant:Grant": (name) => ({ id: name, state: {} }),
    "postgresql:index/defaultPrivileges:DefaultPrivileges": (name) => ({ id: name, state: {} }),
    "postgresql:index/grantRole:GrantRole": (name) => ({ id: name, state: {} }),
    "aws:kms/key:Key": (name) => ({
        id: `key-${name}`,
        state: { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/key-${name}`, keyId: `key-${name}` },
    }),
    "aws:kms/alias:Alias": (_n, inputs) => ({ id: inputs.name, state: { arn: `arn:aws:kms:${REGION}:${ACCOUNT}:${inputs.name}` } }),
    "aws:s3/bucket:Bucket": (_n, inputs) => {
        const bucket = inputs.bucket ?? `${inputs.bucketPrefix}0000000001`;
        return { id: bucket, state: { bucket, arn: `arn:aws:s3:::${bucket}` } };
    },
    "aws:s3/bucketVersioning:BucketVersioning": (_n, inputs) => ({ id: inputs.bucket, state: {} }),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (_n, inputs) => ({
        id: inputs.bucket,
        state: {},
    }),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (_n, inputs) => ({ id: inputs.bucket, state: {} }),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (_n, inputs) => ({ id: inputs.bucket, state: {} }),
    "aws:s3/bucketPolicy:BucketPolicy": (_n, inputs) => ({ id: inputs.bucket, state: {} }),
    "aws:iam/policy:Policy": (name) => ({ id: name, state: { arn: `arn:aws:iam::${ACCOUNT}:policy/${name}` } }),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (name) => ({ id: name, state: {} }),
    "aws:rds/parameterGroup:ParameterGroup": (name) => ({ id: name, state: { name } }),
    "aws:rds/instance:Instance": (name) => ({
        id: name,
        state: {
            identifier: name,
            address: `${name}.abcdefghijkl.${REGION}.rds.amazonaws.com`,
            port: 5432,
            arn: `arn:aws:rds:${REGION}:${ACCOUNT}:db:${name}`,
            masterUserSecrets: [{ secretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:rds!db-${name}`, secretStatus: "active" }],
        },
    }),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (name) => ({
        id: name,
        state: { arn: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}` },
    }),
    "aws:cloudwatch/dashboard:Dashboard": (name) => ({ id: name, state: {} }),
};

/**
 * Invokes the program makes: reading the RDS-managed admin secret, and the engine's built-ins the
 * server-move guard reads (src/program/deployed-placement.ts): under the mock runtime no stack
 * has been deployed.
 */
const CALLS: Record<string, (inputs: Record<string, any>) => Record<string, unknown>> = {
    [READ_STACK_OUTPUTS]: (inputs) => ({ name: inputs.name, outputs: {}, secretOutputNames: [] }),
    [READ_STACK_RESOURCE_OUTPUTS]: (inputs) => ({ name: inputs.stackName, outputs: {} }),
    "aws:secretsmanager/getSecretVersion:getSecretVersion": (inputs) => ({
        arn: inputs.secretId,
        secretString: JSON.stringify({ username: "tenantdb_admin", password: randomAlphanumeric(32) }),
    }),
};

/** One custom resource as the mock monitor saw it: its inputs as the provider would get them. */
export interface MockedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
    /** The provider reference (`urn::id`) for custom resources that name one explicitly or inherit it. */
    readonly provider?: string;
    readonly custom: boolean;
}

/**
 * A resource the program declared, with its place in the resource tree (src/program/offline.ts).
 * evaluateProgramOffline always sets `urn` and `parent`; they are optional only because tests
 * hand-build evaluations without them (test/security/apply-declared.test.ts).
 */
export interface RecordedResource extends MockedResource {
    /** Its URN, as the engine computes it. */
    readonly urn?: string;
    /** Its parent's URN: a component's, or the root stack's. */
    readonly parent?: string;
}

export class RecordingMocks implements pulumi.runtime.Mocks {
    /** Custom resources only: the monitor is not told a resource's parent, so the tree is recorded apart. */
    readonly resources: MockedResource[] = [];
    /** RandomPassword results by resource name: the ones given, plus any generated. */
    readonly passwords: Record<string, string>;

    /** `passwords`: results to reuse for RandomPassword resources (a sandbox keeps its passwords across runs). */
    constructor(passwords: Record<string, string> = {}) {
        this.passwords = { ...passwords };
    }

    newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        if (args.type === "random:index/randomPassword:RandomPassword") {
            const result = (this.passwords[args.name] ??= randomAlphanumeric(args.inputs.length));
            this.resources.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider, custom: true });
            return { id: args.name, state: { ...args.inputs, result } };
        }
        const outputs = OUTPUTS[args.type];
        if (!outputs) {
            if (args.custom === false) return { id: undefined, state: {} };
            throw new Error(`unexpected resource ${args.type} (${args.name}): add it to src/program/mocks.ts deliberately`);
        }
        this.resources.push({
            type: args.type,
            name: args.name,
            inputs: args.inputs,
            provider: args.provider,
            custom: args.custom ?? true,
        });
        const { id, state } = outputs(args.name, args.inputs);
        return { id, state: { ...args.inputs, ...state } };
    }

    call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
        const call = CALLS[args.token];
        if (!call) throw new Error(`unexpected invoke ${args.token}: add it to src/program/mocks.ts deliberately`);
        return call(args.inputs);
    }
}
