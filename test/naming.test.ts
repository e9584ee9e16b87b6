import { strict as assert } from "node:assert";
import {
    MAX_TENANT_ID_LENGTH,
    backupBucketPrefix,
    derivedIdentifiers,
    isBeforeRestoreDatabase,
    longestDerivedIdentifier,
    restoreDatabaseNames,
    tenantComponentName,
    tenantIdFromDatabase,
    tenantIdFromLogicalName,
    tenantNames,
} from "../src/naming";
import { tenantIdSchema } from "../src/config/schema";
import { MAX_IDENTIFIER_BYTES, identifierBytes } from "../src/shared/sql";

describe("naming", () => {
    it("caps the tenant id so the longest derived name, the before-restore copy, is exactly 63 bytes", () => {
        assert.equal(MAX_TENANT_ID_LENGTH, 29);
        const longest = "a".repeat(MAX_TENANT_ID_LENGTH);
        assert.equal(longestDerivedIdentifier(longest), `erp_${longest}_before_restore_00000000000000`);
        assert.equal(identifierBytes(longestDerivedIdentifier(longest)), MAX_IDENTIFIER_BYTES);
        const names = [...derivedIdentifiers(longest), ...Object.values(restoreDatabaseNames(longest, "20310102030405"))];
        assert.deepEqual(
            names.filter((name) => identifierBytes(name) > MAX_IDENTIFIER_BYTES),
            [],
        );
        // One more character and the copy a restore keeps would be truncated by PostgreSQL.
        assert.equal(identifierBytes(longestDerivedIdentifier(`${longest}a`)), MAX_IDENTIFIER_BYTES + 1);
        assert.equal(tenantIdSchema.safeParse(longest).success, true);
        assert.equal(tenantIdSchema.safeParse(`${longest}a`).success, false);
    });

    it("parses back what it builds", () => {
        assert.equal(tenantIdFromDatabase(tenantNames("acme_corp").database), "acme_corp");
        assert.equal(tenantIdFromDatabase("erp_"), undefined);
        assert.equal(tenantIdFromDatabase("postgres"), undefined);
        assert.equal(tenantIdFromDatabase(42), undefined);
        assert.equal(tenantIdFromLogicalName(tenantComponentName("acme_corp")), "acme_corp");
        assert.equal(tenantIdFromLogicalName(`${tenantComponentName("acme_corp")}-app-role`), "acme_corp");
        assert.equal(tenantIdFromLogicalName("tenant-"), undefined);
        assert.equal(tenantIdFromLogicalName("server-shared-1"), undefined);
        assert.equal(isBeforeRestoreDatabase("acme", restoreDatabaseNames("acme", "20310102030405").beforeRestore), true);
        assert.equal(isBeforeRestoreDatabase("acme", restoreDatabaseNames("acme", "20310102030405").restore), false);
    });

    it("keeps bucket prefixes within the 37 characters S3 allows before its random suffix", () => {
        assert.equal(backupBucketPrefix("dev", "acme_corp"), "tdb-dev-acme-corp-");
        const prefix = backupBucketPrefix("Production_EU", "a".repeat(MAX_TENANT_ID_LENGTH));
        assert.equal(prefix, `tdb-production-eu-${"a".repeat(18)}-`);
        assert.equal(prefix.length, 37);
        assert.equal(backupBucketPrefix("dev", "abcdefghijklmnopqrstuvwxyz_a_b"), "tdb-dev-abcdefghijklmnopqrstuvwxyz-a-");
    });
});
