/** The manifest signing key and the signature as pure logic: exact messages, no secret in any of them. */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { parseInventory } from "../../src/backup/inventory";
import { canonicalJson, ManifestSigningKey, signatureProblem, signingKeyFromEnv, signPayload } from "../../src/backup/signing";

const KEY_HEX = "0123456789abcdef".repeat(4);
const key = ManifestSigningKey.fromHex(KEY_HEX, "test");
const other = ManifestSigningKey.fromHex("fe".repeat(32), "test");

describe("backup manifest signing", () => {
    it("canonical JSON sorts keys at every level and keeps array order", () => {
        assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    });

    it("verifies its own signature, and names what is wrong with any other", () => {
        const manifest = { tenantId: "acme", sha256: "aa", tables: { "core.users": 3 } };
        const signature = signPayload(key, "acme", manifest);
        assert.deepEqual(Object.keys(signature), ["algorithm", "keyId", "value"]);
        assert.equal(signature.keyId, key.id);
        assert.equal(signatureProblem(key, "acme", manifest, signature), undefined);
        // Same content, key order changed: still the same bytes signed.
        assert.equal(signatureProblem(key, "acme", { tables: { "core.users": 3 }, sha256: "aa", tenantId: "acme" }, signature), undefined);
        const edited = "the manifest's signature does not match its content: the manifest was edited after the backup signed it";
        assert.equal(signatureProblem(key, "acme", { ...manifest, sha256: "bb" }, signature), edited);
        // Each tenant has its own derived key: the same manifest does not verify for another tenant.
        assert.equal(signatureProblem(key, "globex", manifest, signature), edited);
        assert.equal(
            signatureProblem(other, "acme", manifest, signature),
            `the manifest is signed with key ${key.id}, and the configured key is ${other.id}`,
        );
        assert.equal(signatureProblem(key, "acme", manifest, undefined), "the manifest is not signed");
    });

    it("never shows the key: not in JSON, inspect, nor in the error for a malformed one", () => {
        assert.match(key.id, /^[0-9a-f]{16}$/);
        assert.equal(JSON.stringify({ key }), `{"key":"[signing key ${key.id}]"}`);
        assert.equal(inspect(key), `[signing key ${key.id}]`);
        assert.ok(!inspect({ key }, { showHidden: true, depth: 5 }).includes(KEY_HEX));
        const pasted = "not-hex-but-a-real-looking-secret-value-0123456789";
        assert.throws(
            () => signingKeyFromEnv({ TENANTDB_BACKUP_SIGNING_KEY: pasted }),
            (error: Error) =>
                error.message ===
                    "environment variable TENANTDB_BACKUP_SIGNING_KEY: the backup signing key must be at least 64 hex digits; " +
                        "generate one with `openssl rand -hex 32` and keep it in your secret store, not next to the backups." &&
                !error.message.includes(pasted),
        );
        assert.throws(() => ManifestSigningKey.fromHex("ab".repeat(31), "k"), /at least 64 hex digits/);
        assert.throws(
            () => signingKeyFromEnv({}),
            /^Error: environment variable TENANTDB_BACKUP_SIGNING_KEY is not set: backups sign their manifests with it; generate one/,
        );
    });

    it("the inventory reads the key from signingKeyEnv, and a named variable that is unset is a problem", () => {
        const raw = { servers: { a: { host: "localhost", user: "u", passwordEnv: "PW" } }, tenants: [] };
        assert.equal(parseInventory(raw, { PW: "x" }).signingKey, undefined);
        assert.equal(parseInventory(raw, { PW: "x", TENANTDB_BACKUP_SIGNING_KEY: KEY_HEX }).signingKey?.id, key.id);
        assert.equal(parseInventory({ ...raw, signingKeyEnv: "MY_KEY" }, { PW: "x", MY_KEY: KEY_HEX }).signingKey?.id, key.id);
        assert.throws(
            () => parseInventory({ ...raw, signingKeyEnv: "MY_KEY" }, { PW: "x" }, "inv.yaml"),
            (error: Error) =>
                error.message === "Invalid backup inventory inv.yaml:\n  signingKeyEnv: environment variable MY_KEY is not set",
        );
    });
});
