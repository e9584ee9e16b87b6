import { OfflineEvaluation, evaluateProgramOffline } from "../../src/program/offline";

/** A stack with a shared RDS server, an on-prem server and an enterprise tenant. */
export const FLEET_CONFIG = {
    "tenantdb:servers": {
        shared: {
            kind: "rds",
            instanceClass: "db.r6g.xlarge",
            subnetGroupName: "private-db",
            securityGroupIds: ["sg-0abc"],
            alarmTopicArn: "arn:aws:sns:us-east-1:123456789012:db-alarms",
        },
        onprem: { kind: "external", host: "pg.corp.internal", port: 6432, maxConnections: 200 },
    },
    "tenantdb:tenants": [
        { id: "acme", server: "shared", connectionLimit: 40 },
        { id: "globex", server: "onprem", extensions: ["citext"], backupRetentionDays: 90 },
        { id: "big_co", plan: "enterprise", dedicated: { instanceClass: "db.m6g.large", multiAz: false } },
    ],
    "tenantdb:backup": { roleName: "tenantdb-backup" },
    "tenantdb:serverPasswords": { onprem: "onprem-admin-secret-value" },
};

let cached: Promise<OfflineEvaluation> | undefined;
/** The fleet stack evaluated once under the mock runtime (shared by the program tests). */
export function fleet(): Promise<OfflineEvaluation> {
    cached ??= evaluateProgramOffline(FLEET_CONFIG, { stack: "prod" });
    return cached;
}

export function ofType(evaluation: OfflineEvaluation, type: string) {
    return evaluation.resources.filter((resource) => resource.type === type);
}

export function named(evaluation: OfflineEvaluation, name: string) {
    const found = evaluation.resources.filter((resource) => resource.name === name);
    if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
    return found[0];
}
