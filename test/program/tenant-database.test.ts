import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { RecordingMocks } from "../../src/program/mocks";
import { evaluateProgramOffline } from "../../src/program/offline";
import { scramMatches, scramVerifier } from "../../src/scram";
import { fleet, named, ofType } from "./fixture";

const isSecretInput = (value: any) =>
    typeof value === "object" && value !== null && value[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
const providerName = (ref?: string) => ref?.split("::")[3];

const SCHEMAS = ["core", "masters", "finance", "inventory", "sales", "audit"];

/** Grants of one tenant as comparable strings: role objectType schema privileges. */
async function grantsOf(database: string): Promise<string[]> {
    const evaluation = await fleet();
    return ofType(evaluation, "postgresql:index/grant:Grant")
        .filter((grant) => grant.inputs.database === database)
        .map(
            (grant) =>
                `${grant.inputs.role} ${grant.inputs.objectType} ${grant.inputs.schema ?? "-"} [${grant.inputs.privileges.join(",")}]`,
        )
        .sort();
}

describe("TenantDatabase under the mock runtime", () => {
    it("declares the database erp_<id> owned by the owner role, with an explicit name, UTF8, template0 and the connection limit", async () => {
        const evaluation = await fleet();
        assert.deepEqual(named(evaluation, "tenant-acme-database").inputs, {
            name: "erp_acme",
            owner: "erp_acme_owner",
            encoding: "UTF8",
            lcCollate: "en_US.UTF-8",
            lcCtype: "en_US.UTF-8",
            template: "template0",
            connectionLimit: 40,
            allowConnections: true,
            isTemplate: false,
        });
        assert.equal(named(evaluation, "tenant-globex-database").inputs.connectionLimit, 50);
    });

    it("declares four roles without powers, with per-role connection limits, timeouts and secret passwords", async () => {
        const evaluation = await fleet();
        const noPowers = { superuser: false, createDatabase: false, createRole: false, replication: false, bypassRowLevelSecurity: false };
        const role = (name: string) => {
            const { password, ...rest } = named(evaluation, name).inputs;
            return { rest, password };
        };
        assert.deepEqual(role("tenant-acme-owner").rest, { name: "erp_acme_owner", login: false, ...noPowers });
        assert.deepEqual(role("tenant-acme-app").rest, {
            name: "erp_acme_app",
            login: true,
            ...noPowers,
            connectionLimit: 31,
            statementTimeout: 30000,
            idleInTransactionSessionTimeout: 60000,
        });
        assert.deepEqual(role("tenant-acme-readonly").rest, {
            name: "erp_acme_readonly",
            login: true,
            ...noPowers,
            connectionLimit: 5,
            statementTimeout: 300000,
        });
        assert.deepEqual(role("tenant-acme-migrator").rest, {
            name: "erp_acme_migrator",
            login: true,
            ...noPowers,
            connectionLimit: 2,
            roles: ["erp_acme_owner"],
            assumeRole: "erp_acme_owner",
        });
        // The server is sent each role's SCRAM verifier, built from the tenant's secret password.
        const secrets = evaluation.outputs.tenantSecrets.acme;
        for (const [name, plain] of [
            ["app", secrets.appPassword],
            ["readonly", secrets.readonlyPassword],
            ["migrator", secrets.migratorPassword],
        ] as const) {
            const { password } = role(`tenant-acme-${name}`);
            assert.ok(isSecretInput(password), `${name} password must be a secret input`);
            assert.match(plain, /^[A-Za-z0-9]{40}$/);
            assert.match(password.value, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
            assert.equal(password.value, await scramVerifier(`erp_acme_${name}`, plain));
            assert.ok(scramMatches(password.value, plain));
            assert.ok(!scramMatches(password.value, `${plain}x`));
        }
        for (const password of ofType(evaluation, "random:index/randomPassword:RandomPassword")) {
            assert.deepEqual(password.inputs, { length: 40, special: false, minLower: 4, minUpper: 4, minNumeric: 4 });
        }
        for (const any of ofType(evaluation, "postgresql:index/role:Role")) {
            assert.deepEqual(
                [any.inputs.superuser, any.inputs.createDatabase, any.inputs.createRole, any.inputs.replication],
                [false, false, false, false],
                any.name,
            );
        }
    });

    it("revokes PUBLIC, grants CONNECT to the tenant's login roles and USAGE on each business schema, and nothing else", async () => {
        const expected = [
            "erp_acme_app database - [CONNECT]",
            "erp_acme_migrator database - [CONNECT]",
            "erp_acme_readonly database - [CONNECT]",
            "public database - []",
            "public schema public [USAGE]",
            ...SCHEMAS.flatMap((schema) => [`erp_acme_app schema ${schema} [USAGE]`, `erp_acme_readonly schema ${schema} [USAGE]`]),
        ].sort();
        assert.deepEqual(await grantsOf("erp_acme"), expected);
        assert.deepEqual((await grantsOf("erp_big_co")).length, 17);
    });

    it("sets default privileges so tables created by migrations reach app (read/write, audit read-only) and readonly (read)", async () => {
        const evaluation = await fleet();
        const defaults = ofType(evaluation, "postgresql:index/defaultPrivileges:DefaultPrivileges")
            .filter((d) => d.inputs.database === "erp_acme")
            .map((d) => `${d.inputs.schema} ${d.inputs.owner} ${d.inputs.role} ${d.inputs.objectType} [${d.inputs.privileges.join(",")}]`)
            .sort();
        const expected = SCHEMAS.flatMap((schema) => [
            `${schema} erp_acme_owner erp_acme_app table [${schema === "audit" ? "SELECT" : "DELETE,INSERT,SELECT,UPDATE"}]`,
            `${schema} erp_acme_owner erp_acme_app sequence [SELECT,USAGE]`,
            `${schema} erp_acme_owner erp_acme_readonly table [SELECT]`,
        ]).sort();
        assert.deepEqual(defaults, expected);
    });

    it("declares the business schemas and tenantdb's own schema owned by the owner role, and the extensions", async () => {
        const evaluation = await fleet();
        const schemas = ofType(evaluation, "postgresql:index/schema:Schema")
            .filter((s) => s.inputs.database === "erp_acme")
            .map((s) => `${s.inputs.name}:${s.inputs.owner}`)
            .sort();
        assert.deepEqual(schemas, [...SCHEMAS, "tenantdb"].map((s) => `${s}:erp_acme_owner`).sort());
        const extensions = (database: string) =>
            ofType(evaluation, "postgresql:index/extension:Extension")
                .filter((e) => e.inputs.database === database)
                .map((e) => `${e.inputs.name}@${e.inputs.schema}`)
                .sort();
        assert.deepEqual(extensions("erp_acme"), ["pg_trgm@public", "uuid-ossp@public"]);
        assert.deepEqual(extensions("erp_globex"), ["citext@public", "pg_trgm@public", "uuid-ossp@public"]);
    });

    it("never grants a role of one tenant anything on another tenant's database", async () => {
        const evaluation = await fleet();
        const privileged = [
            ...ofType(evaluation, "postgresql:index/grant:Grant"),
            ...ofType(evaluation, "postgresql:index/defaultPrivileges:DefaultPrivileges"),
        ];
        // Per tenant 17 grants and 18 default privileges; per server 2 grants that only revoke from PUBLIC.
        assert.equal(privileged.length, 3 * (17 + 18) + 3 * 2);
        for (const resource of privileged) {
            const database: string = resource.inputs.database;
            const roles = [resource.inputs.role, resource.inputs.owner].filter((r) => r !== undefined && r !== "public");
            for (const role of roles) assert.ok(role.startsWith(`${database}_`), `${resource.name}: ${role} on ${database}`);
        }
    });

    it("gives every PostgreSQL resource its own server's provider explicitly", async () => {
        const evaluation = await fleet();
        const expected: Record<string, string> = {
            acme: "server-shared-postgresql",
            globex: "server-onprem-postgresql",
            big_co: "server-ent-big-co-postgresql",
        };
        const pg = evaluation.resources.filter((r) => r.type.startsWith("postgresql:"));
        assert.equal(pg.length, 3 * 4 + 3 + 17 * 3 + 18 * 3 + 7 * 3 + 7 + 3 * 2);
        for (const resource of pg) {
            const server = /^(server-(?:shared|onprem|ent-big-co))-(?:postgres|template1)-revoke-public$/.exec(resource.name)?.[1];
            const tenant = server ? undefined : resource.name.match(/^tenant-(acme|globex|big_co)-/)![1];
            assert.equal(providerName(resource.provider), server ? `${server}-postgresql` : expected[tenant!], resource.name);
        }
    });

    it("closes every server's maintenance databases to PUBLIC, owned by the server's component and retained on delete", async () => {
        const evaluation = await fleet();
        const opts = (name: string) => evaluation.options.get(`postgresql:index/grant:Grant::${name}`);
        const maintenance = ofType(evaluation, "postgresql:index/grant:Grant")
            .filter((grant) => grant.name.startsWith("server-"))
            .sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(
            maintenance.map((grant) => [grant.name, grant.urn, providerName(grant.provider), opts(grant.name)]),
            [
                ["ent-big-co", "RdsServer", true],
                ["onprem", "ExternalServer", false],
                ["shared", "RdsServer", true],
            ].flatMap(([server, type, protect]) =>
                ["postgres", "template1"].map((database) => [
                    `server-${server}-${database}-revoke-public`,
                    `urn:pulumi:prod::tenantdb::tenantdb:index:${type}$postgresql:index/grant:Grant::server-${server}-${database}-revoke-public`,
                    `server-${server}-postgresql`,
                    { protect, retainOnDelete: true, parent: `server-${server}`, dependsOn: [] },
                ]),
            ),
        );
        for (const grant of maintenance) {
            const database = grant.name.endsWith("-template1-revoke-public") ? "template1" : "postgres";
            assert.deepEqual(grant.inputs, { database, role: "public", objectType: "database", privileges: [] }, grant.name);
        }
        // The external server's provider stays at the root (its URN is pinned): only the grants are the component's.
        assert.equal(evaluation.options.get("pulumi:providers:postgresql::server-onprem-postgresql")?.parent, undefined);
    });

    it("protects and retains every resource of a tenant and server, so removing one from config stops up before any delete", async () => {
        const evaluation = await fleet();
        const opts = (type: string, name: string) => evaluation.options.get(`${type}::${name}`);
        const unprotected = evaluation.resources
            .filter((r) => r.type !== "pulumi:pulumi:Stack" && opts(r.type, r.name)?.protect !== true)
            .map((r) => r.name);
        // Only what external servers declare, which holds nothing (an external server is not ours to delete): the
        // provider, and the maintenance grants, which are retained, so deleting them runs no SQL and re-grants nothing.
        assert.deepEqual(unprotected, [
            "server-onprem-postgresql",
            "server-onprem-postgres-revoke-public",
            "server-onprem-template1-revoke-public",
        ]);
        for (const resource of evaluation.resources.filter(
            (r) => r.type.startsWith("postgresql:index/") || r.type.startsWith("aws:s3/") || r.type === "aws:kms/alias:Alias",
        )) {
            assert.equal(opts(resource.type, resource.name)?.retainOnDelete, true, resource.name);
        }
        assert.deepEqual(opts("postgresql:index/database:Database", "tenant-acme-database"), {
            protect: true,
            retainOnDelete: true,
            parent: "tenant-acme",
            dependsOn: ["tenant-acme-owner", "tenant-acme-app", "tenant-acme-readonly", "tenant-acme-migrator"],
        });
    });

    it("orders what the real provider cannot do at once: one database step per server, one grant per ACL", async () => {
        const external = (port: number) => ({ kind: "external", host: "127.0.0.1", port, superuser: true, sslmode: "disable" });
        const evaluation = await evaluateProgramOffline({
            "tenantdb:servers": { a: external(5433), b: external(5434) },
            "tenantdb:tenants": [
                { id: "t1", server: "a", connectionLimit: 20 },
                { id: "t2", server: "b", connectionLimit: 20 },
                { id: "t3", server: "a", connectionLimit: 20 },
            ],
            "tenantdb:backup": { buckets: false },
            "tenantdb:serverPasswords": { a: "pa", b: "pb" },
        });
        const after = (type: string, name: string) => evaluation.options.get(`postgresql:index/${type}::${name}`)!.dependsOn;
        // After all four roles, so that erasing a tenant drops the database before any role.
        assert.deepEqual(after("database:Database", "tenant-t1-database"), [
            "tenant-t1-owner",
            "tenant-t1-app",
            "tenant-t1-readonly",
            "tenant-t1-migrator",
        ]);
        assert.deepEqual(after("database:Database", "tenant-t2-database"), [
            "tenant-t2-owner",
            "tenant-t2-app",
            "tenant-t2-readonly",
            "tenant-t2-migrator",
        ]);
        assert.deepEqual(after("database:Database", "tenant-t3-database"), [
            "tenant-t3-owner",
            "tenant-t3-app",
            "tenant-t3-readonly",
            "tenant-t3-migrator",
            "tenant-t1-database",
        ]);
        // The database's ACL: PUBLIC revoked, then CONNECT for app, readonly and migrator, one after another.
        assert.deepEqual(after("grant:Grant", "tenant-t1-revoke-public"), ["tenant-t1-database"]);
        assert.deepEqual(after("grant:Grant", "tenant-t1-app-connect"), ["tenant-t1-database", "tenant-t1-app", "tenant-t1-revoke-public"]);
        assert.deepEqual(after("grant:Grant", "tenant-t1-readonly-connect"), [
            "tenant-t1-database",
            "tenant-t1-readonly",
            "tenant-t1-app-connect",
        ]);
        assert.deepEqual(after("grant:Grant", "tenant-t1-migrator-connect"), [
            "tenant-t1-database",
            "tenant-t1-migrator",
            "tenant-t1-readonly-connect",
        ]);
        // A schema's ACL and each of its default ACL rows (owner, schema, object type).
        assert.deepEqual(after("grant:Grant", "tenant-t1-sales-readonly-usage"), [
            "tenant-t1-schema-sales",
            "tenant-t1-readonly",
            "tenant-t1-sales-app-usage",
        ]);
        assert.deepEqual(after("defaultPrivileges:DefaultPrivileges", "tenant-t1-sales-readonly-default-tables"), [
            "tenant-t1-schema-sales",
            "tenant-t1-readonly",
            "tenant-t1-sales-app-default-tables",
        ]);
        assert.deepEqual(after("defaultPrivileges:DefaultPrivileges", "tenant-t1-sales-app-default-sequences"), [
            "tenant-t1-schema-sales",
            "tenant-t1-app",
        ]);
    });

    it("gives each tenant its own bucket: SSE-KMS with its own rotating key, versioning, no public access, TLS only, lifecycle", async () => {
        const evaluation = await fleet();
        assert.deepEqual(named(evaluation, "tenant-globex-backups").inputs, {
            bucketPrefix: "tdb-prod-globex-",
            forceDestroy: false,
            tags: { tenant: "globex", plan: "standard", server: "onprem", "managed-by": "tenantdb" },
        });
        assert.deepEqual(named(evaluation, "tenant-globex-backups-key").inputs, {
            description: "tenantdb prod: backups of tenant globex",
            enableKeyRotation: true,
            deletionWindowInDays: 30,
            tags: { tenant: "globex", plan: "standard", server: "onprem", "managed-by": "tenantdb" },
        });
        assert.deepEqual(named(evaluation, "tenant-globex-backups-key-alias").inputs, {
            name: "alias/tenantdb/prod/globex",
            targetKeyId: "key-tenant-globex-backups-key",
        });
        const bucket = "tdb-prod-globex-0000000001";
        const keyArn = "arn:aws:kms:us-east-1:123456789012:key/key-tenant-globex-backups-key";
        assert.deepEqual(named(evaluation, "tenant-globex-backups-encryption").inputs, {
            bucket,
            rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: keyArn }, bucketKeyEnabled: true }],
        });
        assert.deepEqual(named(evaluation, "tenant-globex-backups-versioning").inputs, {
            bucket,
            versioningConfiguration: { status: "Enabled" },
        });
        assert.deepEqual(named(evaluation, "tenant-globex-backups-public-access-block").inputs, {
            bucket,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        });
        assert.deepEqual(named(evaluation, "tenant-globex-backups-lifecycle").inputs, {
            bucket,
            rules: [
                {
                    id: "expire-backups",
                    status: "Enabled",
                    filter: { prefix: "" },
                    expiration: { days: 90 },
                    noncurrentVersionExpiration: { noncurrentDays: 7 },
                    abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                },
            ],
        });
        assert.equal(named(evaluation, "tenant-acme-backups-lifecycle").inputs.rules[0].expiration.days, 30);
        assert.deepEqual(JSON.parse(named(evaluation, "tenant-globex-backups-tls-only").inputs.policy), {
            Version: "2012-10-17",
            Statement: [
                {
                    Sid: "DenyInsecureTransport",
                    Effect: "Deny",
                    Principal: "*",
                    Action: "s3:*",
                    Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
                    Condition: { Bool: { "aws:SecureTransport": "false" } },
                },
            ],
        });
    });

    it("lets the backup job read and write this tenant's bucket and key only, with no delete", async () => {
        const evaluation = await fleet();
        const bucketArn = "arn:aws:s3:::tdb-prod-acme-0000000001";
        assert.deepEqual(JSON.parse(named(evaluation, "tenant-acme-backups-job-policy").inputs.policy), {
            Version: "2012-10-17",
            Statement: [
                { Sid: "ListTenantBucket", Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: bucketArn },
                {
                    Sid: "ReadWriteTenantBackups",
                    Effect: "Allow",
                    Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                    Resource: `${bucketArn}/*`,
                },
                {
                    Sid: "UseTenantKeyThroughS3",
                    Effect: "Allow",
                    Action: ["kms:Decrypt", "kms:GenerateDataKey"],
                    Resource: "arn:aws:kms:us-east-1:123456789012:key/key-tenant-acme-backups-key",
                    Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
                },
            ],
        });
        assert.deepEqual(named(evaluation, "tenant-acme-backups-job-policy-attachment").inputs, {
            role: "tenantdb-backup",
            policyArn: "arn:aws:iam::123456789012:policy/tenant-acme-backups-job-policy",
        });
    });

    it("gives the enterprise tenant a dedicated, encrypted, deletion-protected RDS server with audit parameters", async () => {
        const evaluation = await fleet();
        const { tags, ...instance } = named(evaluation, "server-ent-big-co").inputs;
        assert.deepEqual(instance, {
            engine: "postgres",
            engineVersion: "16",
            instanceClass: "db.m6g.large",
            allocatedStorage: 20,
            maxAllocatedStorage: 100,
            storageType: "gp3",
            storageEncrypted: true,
            multiAz: false,
            username: "tenantdb_admin",
            manageMasterUserPassword: true,
            parameterGroupName: "server-ent-big-co-parameters",
            vpcSecurityGroupIds: [],
            publiclyAccessible: false,
            backupRetentionPeriod: 30,
            deletionProtection: true,
            skipFinalSnapshot: false,
            finalSnapshotIdentifier: "tenantdb-prod-server-ent-big-co-final",
            copyTagsToSnapshot: true,
            performanceInsightsEnabled: true,
            enabledCloudwatchLogsExports: ["postgresql"],
            autoMinorVersionUpgrade: true,
            applyImmediately: false,
        });
        assert.deepEqual(tags, { server: "ent-big-co", "managed-by": "tenantdb", tenant: "big_co", plan: "enterprise" });
        assert.equal(named(evaluation, "server-shared").inputs.dbSubnetGroupName, "private-db");
        assert.deepEqual(named(evaluation, "server-shared").inputs.vpcSecurityGroupIds, ["sg-0abc"]);
        assert.deepEqual(
            named(evaluation, "server-ent-big-co-parameters").inputs.parameters.map((p: any) => `${p.name}=${p.value}`),
            [
                "rds.force_ssl=1",
                "log_connections=1",
                "log_disconnections=1",
                "log_statement=ddl",
                "password_encryption=scram-sha-256",
                "shared_preload_libraries=pg_stat_statements,pgaudit",
                "pgaudit.log=ddl,role",
                "pgaudit.log_parameter=0",
            ],
        );
        assert.equal(named(evaluation, "server-ent-big-co-parameters").inputs.family, "postgres16");
        const provider = named(evaluation, "server-ent-big-co-postgresql").inputs;
        assert.deepEqual(
            [provider.superuser, provider.sslmode, provider.maxConnections, provider.username],
            ["false", "require", "4", "tenantdb_admin"],
        );
        assert.ok(isSecretInput(provider.password));
        // The only tenant on its dedicated server.
        const onDedicated = ofType(evaluation, "postgresql:index/database:Database").filter(
            (d) => providerName(d.provider) === "server-ent-big-co-postgresql",
        );
        assert.deepEqual(
            onDedicated.map((d) => d.inputs.name),
            ["erp_big_co"],
        );
    });

    it("alarms on CPU, free storage and connections against max_connections, to the configured topic", async () => {
        const evaluation = await fleet();
        const alarms = ofType(evaluation, "aws:cloudwatch/metricAlarm:MetricAlarm")
            .filter((a) => a.name.startsWith("server-shared-"))
            .map((a) => `${a.inputs.metricName} ${a.inputs.comparisonOperator} ${a.inputs.threshold} ${a.inputs.alarmActions.join(",")}`);
        const topic = "arn:aws:sns:us-east-1:123456789012:db-alarms";
        // db.r6g.xlarge: 32 GiB / 9531392 = 3604 max_connections; 80% is 2883. 20 GiB * 10% in bytes.
        assert.deepEqual(alarms, [
            `CPUUtilization GreaterThanThreshold 80 ${topic}`,
            `FreeStorageSpace LessThanThreshold 2147483648 ${topic}`,
            `DatabaseConnections GreaterThanThreshold 2883 ${topic}`,
        ]);
        assert.equal(ofType(evaluation, "aws:cloudwatch/dashboard:Dashboard").length, 2);
        assert.equal(named(evaluation, "server-shared-dashboard").inputs.dashboardName, "tenantdb-prod-server-shared");
    });

    it("exports names in plain outputs and passwords and connection strings only as secrets", async () => {
        const evaluation = await fleet();
        assert.deepEqual(evaluation.secretOutputs, { tenants: false, tenantSecrets: true, servers: false });
        assert.deepEqual(evaluation.outputs.tenants.globex, {
            database: "erp_globex",
            server: "onprem",
            plan: "standard",
            state: "active",
            host: "pg.corp.internal",
            port: 6432,
            sslmode: "require",
            roles: { owner: "erp_globex_owner", app: "erp_globex_app", readonly: "erp_globex_readonly", migrator: "erp_globex_migrator" },
            bucket: "tdb-prod-globex-0000000001",
            kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/key-tenant-globex-backups-key",
            backupPolicyArn: "arn:aws:iam::123456789012:policy/tenant-globex-backups-job-policy",
        });
        const secrets = evaluation.outputs.tenantSecrets.acme;
        assert.equal(
            secrets.appConnectionString,
            `postgresql://erp_acme_app:${secrets.appPassword}@server-shared.abcdefghijkl.us-east-1.rds.amazonaws.com:5432/erp_acme?sslmode=require`,
        );
        const plain = JSON.stringify([evaluation.outputs.tenants, evaluation.outputs.servers]);
        for (const tenant of Object.values(evaluation.outputs.tenantSecrets)) {
            for (const password of [tenant.appPassword, tenant.readonlyPassword, tenant.migratorPassword])
                assert.ok(!plain.includes(password));
        }
        assert.ok(!plain.includes("onprem-admin-secret-value"));
        assert.deepEqual(evaluation.outputs.servers.shared, {
            kind: "rds",
            host: "server-shared.abcdefghijkl.us-east-1.rds.amazonaws.com",
            port: 5432,
            maxConnections: 3604,
        });
    });

    it("fails loudly on a resource type or invoke the mocks do not know", () => {
        const mocks = new RecordingMocks();
        assert.throws(
            () => mocks.newResource({ type: "aws:ec2/instance:Instance", name: "x", inputs: {}, custom: true }),
            /unexpected resource aws:ec2\/instance:Instance \(x\): add it to src\/program\/mocks.ts deliberately/,
        );
        assert.throws(
            () => mocks.call({ token: "aws:index/getRegion:getRegion", inputs: {} }),
            /unexpected invoke aws:index\/getRegion:getRegion/,
        );
    });
});
