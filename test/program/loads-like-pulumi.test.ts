import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const root = path.resolve(__dirname, "../..");

function loadIndex(config: Record<string, unknown>, { typeCheck = true } = {}): any {
    const values = Object.fromEntries(Object.entries(config).map(([key, value]) => [key, JSON.stringify(value)]));
    const run = spawnSync(process.execPath, [path.join(__dirname, "support/load-like-pulumi.js")], {
        cwd: root,
        env: { ...process.env, TEST_STACK_CONFIG: JSON.stringify(values), TEST_TYPE_CHECK: String(typeCheck) },
        encoding: "utf8",
    });
    const last = run.stdout.trim().split("\n").pop();
    if (!last?.startsWith("{")) throw new Error(`the program printed no result (exit ${run.status}):\n${run.stderr}`);
    return JSON.parse(last);
}

describe("index.ts loaded as pulumi up loads it (ts-node, project tsconfig)", function () {
    this.timeout(120_000);

    it("type-checks and declares the dev stack, exporting tenants, tenantSecrets and servers", () => {
        const dev = parse(readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")).config;
        const result = loadIndex({ ...dev, "tenantdb:serverPasswords": { local: "local-admin-password" } });
        // 3 tenants x 52 resources, globex's citext extension, the server's provider and its 2 maintenance grants (no buckets).
        assert.deepEqual(result, { outputs: ["servers", "tenantSecrets", "tenants"], resources: 160 });
    });

    it("stops with the whole list of config problems before declaring anything", () => {
        const result = loadIndex(
            { "tenantdb:servers": {}, "tenantdb:tenants": [{ id: "Acme" }, { id: "acme;drop" }] },
            { typeCheck: false },
        );
        assert.deepEqual(result, {
            error: [
                "tenantdb config has 2 problems:",
                "  - tenantdb:tenants[0].id: must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp",
                "  - tenantdb:tenants[1].id: must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp",
            ].join("\n"),
        });
    });
});
