import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { addTenant } from "../../src/config/add-tenant";
import { ConfigError } from "../../src/config/errors";
import { loadStackModel } from "../../src/config/load";
import { sourceFromAutomationConfig } from "../../src/config/sources/automation";
import { loadFromPulumiConfig } from "../../src/config/sources/pulumi-config";
import { SECRET_PLACEHOLDER, parseStackFile } from "../../src/config/sources/stack-file";
import { parseNewTenant } from "../../src/config/sources/tenant-request";

const DEV_STACK = path.resolve(__dirname, "../../Pulumi.dev.yaml");
const PASSWORDS = "  tenantdb:serverPasswords:\n    local:\n      secure: v1:AAAA\n";

/** The model as plain data, for comparing what two sources produced. */
const plain = (model: ReturnType<typeof loadStackModel>) => ({ ...model, servers: Object.fromEntries(model.servers) });

describe("config sources: one loader, the same model from every source", () => {
    const file = parseStackFile(readFileSync(DEV_STACK, "utf8") + PASSWORDS, "Pulumi.dev.yaml");
    const fromFile = loadStackModel(file.source);

    it("reads a stack file: flat values for the program, secure values replaced, the model's source", () => {
        assert.deepEqual(file.secretKeys, ["tenantdb:serverPasswords"]);
        assert.equal(file.config["tenantdb:serverPasswords"], JSON.stringify({ local: SECRET_PLACEHOLDER }));
        assert.deepEqual(file.source.serverPasswordNames, ["local"]);
        assert.deepEqual(
            fromFile.tenants.map((t) => [t.id, t.server, t.names.database, t.componentName]),
            [
                ["acme", "local", "erp_acme", "tenant-acme"],
                ["globex", "local", "erp_globex", "tenant-globex"],
                ["initech", "local", "erp_initech", "tenant-initech"],
            ],
        );
        assert.equal(fromFile.servers.get("local")!.componentName, "server-local");
    });

    it("gives the same model from the Automation API's config map", () => {
        const map: ConfigMap = Object.fromEntries(
            Object.entries(file.config).map(([key, value]) => [key, { value, secret: file.secretKeys.includes(key) }]),
        );
        assert.deepEqual(plain(loadStackModel(sourceFromAutomationConfig(map, "stack dev"))), plain(fromFile));
    });

    it("gives the same model from Pulumi config inside the program", () => {
        pulumi.runtime.setAllConfig(file.config, file.secretKeys);
        try {
            assert.deepEqual(plain(loadFromPulumiConfig(new pulumi.Config("tenantdb")).model), plain(fromFile));
        } finally {
            pulumi.runtime.setAllConfig({}, []);
        }
    });

    it("reads structured values stored as JSON strings, and refuses other strings naming the fix", () => {
        const json = parseStackFile(`config:\n  tenantdb:tenants: '[{"id":"acme","server":"local"}]'\n  tenantdb:servers: {}\n`, "f.yaml");
        assert.deepEqual(json.source.raw.tenants, [{ id: "acme", server: "local" }]);
        assert.throws(() => parseStackFile("config:\n  tenantdb:tenants: acme\n", "f.yaml"), {
            name: "ConfigError",
            message: "tenantdb config has 1 problem:\n  - f.yaml: tenantdb:tenants is a string that is not JSON; write it as YAML",
        });
    });

    it("never shows a secret value that is not valid structured config", () => {
        const map: ConfigMap = { "tenantdb:serverPasswords": { value: "hunter22-not-json", secret: true } };
        assert.throws(
            () => sourceFromAutomationConfig(map, "stack dev"),
            (error: Error) => {
                assert.equal(
                    error.message,
                    "tenantdb config has 1 problem:\n  - tenantdb:serverPasswords: is not valid structured config (a secret; its value is not shown): set it with pulumi config set --path",
                );
                return error instanceof ConfigError;
            },
        );
    });
});

describe("a new tenant request", () => {
    it("accepts the fields it knows and keeps only what was given", () => {
        assert.deepEqual(parseNewTenant({ id: "acme", plan: "enterprise" }), { id: "acme", plan: "enterprise" });
        assert.deepEqual(parseNewTenant({ id: "acme", connectionLimit: 30, server: "shared-1" }), {
            id: "acme",
            connectionLimit: 30,
            server: "shared-1",
        });
    });

    it("names every bad field and the fix", () => {
        assert.throws(() => parseNewTenant({ id: "Acme;drop", connectionLimit: 5, color: "red" }, "request"), {
            name: "ConfigError",
            message: [
                "tenantdb config has 3 problems:",
                "  - request.id: must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp",
                "  - request.connectionLimit: must be a whole number from 10 to 5000; write a number in that range without quotes or units, e.g. 50",
                "  - request.color: is not a known field (id, plan, connectionLimit, server)",
            ].join("\n"),
        });
    });

    it("is added with its server recorded, the whole config validated", () => {
        const source = parseStackFile(readFileSync(DEV_STACK, "utf8") + PASSWORDS, "Pulumi.dev.yaml").source;
        const added = addTenant(source, parseNewTenant({ id: "umbrella" }));
        assert.deepEqual(added.entry, { id: "umbrella", server: "local" });
        assert.deepEqual(
            added.model.tenants.map((t) => t.id),
            ["acme", "globex", "initech", "umbrella"],
        );
        assert.throws(() => addTenant(source, { id: "acme" }), /tenantdb:tenants\[3\]\.id: duplicate id "acme" \(also tenants\[0\]\)/);
    });
});
