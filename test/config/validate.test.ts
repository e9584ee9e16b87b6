import * as assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors";
import { RawStackConfig } from "../../src/config/model";
import { validateStackConfig } from "../../src/config/validate";

const external = { kind: "external", host: "db.internal", maxConnections: 200 };
const context = { serverPasswordNames: ["onprem"] };

/** Validates and returns the problems as "path: message" lines (empty when valid). */
function problems(raw: RawStackConfig, ctx = context): string[] {
    try {
        validateStackConfig(raw, ctx);
        return [];
    } catch (error) {
        assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        return error.problems.map((problem) => `${problem.path}: ${problem.message}`);
    }
}

const withTenant = (tenant: Record<string, unknown>) => ({ servers: { onprem: external }, tenants: [{ server: "onprem", ...tenant }] });

describe("stack config validation", () => {
    describe("tenant ids", () => {
        const pattern =
            "must start with a lowercase letter and contain only a-z, 0-9 and _ (no upper case, spaces, quotes, dashes or unicode), e.g. acme_corp";
        const cases: [string, unknown, string[]][] = [
            ["a quote", "acme'; DROP DATABASE x; --", [pattern]],
            ["a double quote", 'ac"me', [pattern]],
            ["a semicolon", "acme;", [pattern]],
            ["a space", "acme corp", [pattern]],
            ["upper case", "Acme", [pattern]],
            ["unicode", "acmé", [pattern]],
            ["a dash", "acme-corp", [pattern]],
            ["a leading digit", "1acme", [pattern]],
            ["a leading underscore", "_acme", [pattern]],
            ["a double underscore", "acme__corp", ["must not contain __ or end with _"]],
            ["a trailing underscore", "acme_", ["must not contain __ or end with _"]],
            ["a reserved word", "select", ["is a PostgreSQL reserved word; choose another id, e.g. add a suffix"]],
            ["another reserved word", "user", ["is a PostgreSQL reserved word; choose another id, e.g. add a suffix"]],
            ["a number", 42, ["must be a string, e.g. id: acme_corp"]],
        ];
        for (const [what, id, messages] of cases) {
            it(`refuses an id with ${what}`, () => {
                assert.deepEqual(
                    problems(withTenant({ id })),
                    messages.map((m) => `tenantdb:tenants[0].id: ${m}`),
                );
            });
        }

        it("refuses an empty id, saying what an id looks like", () => {
            assert.deepEqual(problems(withTenant({ id: "" })), [
                "tenantdb:tenants[0].id: is empty; use lowercase letters, digits and underscores, starting with a letter, e.g. acme_corp",
                `tenantdb:tenants[0].id: ${pattern}`,
            ]);
        });

        it("accepts an id of 29 characters, whose erp_<id>_before_restore_<timestamp> is exactly 63 bytes, and refuses 30", () => {
            const longest = "a".repeat(29);
            assert.equal(`erp_${longest}_before_restore_20261127120000`.length, 63);
            assert.deepEqual(problems(withTenant({ id: longest })), []);
            assert.deepEqual(problems(withTenant({ id: "a".repeat(30) })), [
                "tenantdb:tenants[0].id: is longer than 29 characters: the database a restore keeps, erp_<id>_before_restore_<timestamp>, would pass PostgreSQL's 63-byte identifier limit; shorten it",
            ]);
        });
    });

    it("refuses duplicate ids and ids whose derived names collide", () => {
        const raw = {
            servers: { onprem: { ...external, maxConnections: 1000 } },
            tenants: [
                { id: "acme", server: "onprem" },
                { id: "acme", server: "onprem" },
                { id: "acme_app", server: "onprem" },
            ],
        };
        assert.deepEqual(problems(raw), [
            'tenantdb:tenants[1].id: duplicate id "acme" (also tenants[0]); each tenant needs its own id',
            'tenantdb:tenants[2].id: "acme_app" derives the PostgreSQL name erp_acme_app, which tenants[0] ("acme") also derives; choose an id that does not end in _owner, _app, _readonly or _migrator',
        ]);
    });

    it("refuses an unknown server, plan, field and kind, all in one report", () => {
        const raw = {
            servers: { onprem: external, cloud: { kind: "azure" } },
            tenants: [
                { id: "acme", server: "nowhere" },
                { id: "globex", server: "onprem", plan: "gold" },
                { id: "initech", server: "onprem", conectionLimit: 5 },
            ],
        };
        assert.deepEqual(problems(raw), [
            'tenantdb:servers.cloud.kind: kind must be "rds" (created by this program) or "external" (an existing PostgreSQL server)',
            'tenantdb:tenants[1].plan: plan must be "standard" or "enterprise"',
            "tenantdb:tenants[2].conectionLimit: is not a known field; check its spelling against the config reference in README.md",
        ]);
        assert.deepEqual(problems({ servers: { onprem: external }, tenants: [{ id: "acme", server: "nowhere" }] }), [
            'tenantdb:tenants[0].server: unknown server "nowhere"; declared servers: onprem',
        ]);
    });

    it("refuses a password in plain config and an external server without its secret", () => {
        const raw = { servers: { onprem: { ...external, adminPassword: "hunter2" }, lab: { ...external } }, tenants: [] };
        const found = problems(raw);
        assert.deepEqual(found, [
            "tenantdb:servers.onprem.adminPassword: secrets do not belong in plain config; remove it and run: pulumi config set --secret --path 'serverPasswords.<server>' (it prompts for the value, or reads it from stdin)",
        ]);
        assert.ok(!found.join("\n").includes("hunter2"), "the message must not echo the secret");
        assert.deepEqual(problems({ servers: { lab: external }, tenants: [] }), [
            "tenantdb:serverPasswords.lab: external server \"lab\" needs its admin password as a secret: pulumi config set --secret --path 'serverPasswords.lab' (it prompts for the value, or reads it from stdin)",
        ]);
    });

    it("refuses a server over its tenant capacity", () => {
        const raw = {
            servers: { onprem: { ...external, capacity: 2, maxConnections: 1000 } },
            tenants: ["a", "b", "c"].map((id) => ({ id, server: "onprem" })),
        };
        assert.deepEqual(problems(raw), [
            'tenantdb:servers.onprem.capacity: server "onprem" holds 3 tenants but its capacity is 2; add a server and place new tenants there, or raise capacity',
        ]);
    });

    it("refuses connection limits the server's max_connections cannot hold, keeping admin headroom", () => {
        // db.t4g.medium: 4 GiB / 9531392 = 450 max_connections, 45 reserved, budget 405.
        const rds = { kind: "rds", instanceClass: "db.t4g.medium" };
        const eight = Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, server: "shared", connectionLimit: 50 }));
        assert.deepEqual(problems({ servers: { shared: rds }, tenants: eight }), []); // 400 <= 405
        const nine = [...eight, { id: "t8", server: "shared", connectionLimit: 10 }];
        assert.deepEqual(problems({ servers: { shared: rds }, tenants: nine }), [
            'tenantdb:servers.shared: the tenants on "shared" may open 410 connections in all (sum of connectionLimit) but max_connections is 450, of which 45 stay reserved for admin and migrations (budget 405); lower tenants\' connectionLimit, use a larger instance class, or move new tenants to another server',
        ]);
        assert.deepEqual(problems({ servers: { shared: { kind: "rds", instanceClass: "db.x9.huge" } }, tenants: [] }), [
            'tenantdb:servers.shared.maxConnections: unknown instance class "db.x9.huge"; set maxConnections for this server explicitly',
        ]);
    });

    it("refuses a connection limit below what the roles need", () => {
        assert.deepEqual(problems(withTenant({ id: "acme", connectionLimit: 9 })), [
            "tenantdb:tenants[0].connectionLimit: must be a whole number from 10 to 5000; write a number in that range without quotes or units, e.g. 50",
        ]);
    });

    it("gives an enterprise tenant its own dedicated RDS server with defaults and overrides", () => {
        const model = validateStackConfig(
            {
                servers: { onprem: external },
                tenants: [{ id: "big_co", plan: "enterprise", dedicated: { instanceClass: "db.r6g.large", multiAz: false } }],
            },
            context,
        );
        const server = model.servers.get("ent-big-co");
        assert.ok(server && server.kind === "rds");
        assert.equal(server.instanceClass, "db.r6g.large");
        assert.equal(server.multiAz, false);
        assert.equal(server.capacity, 1);
        assert.equal(server.dedicatedTo, "big_co");
        assert.equal(server.backupRetentionDays, 30);
        assert.equal(model.tenants[0].server, "ent-big-co");
    });

    it("keeps the dedicated server's default class when tenantdb:dedicatedServer sets other fields", () => {
        const model = validateStackConfig(
            { tenants: [{ id: "big_co", plan: "enterprise" }], dedicatedServer: { multiAz: false } },
            context,
        );
        const server = model.servers.get("ent-big-co");
        assert.ok(server && server.kind === "rds");
        assert.deepEqual([server.instanceClass, server.multiAz], ["db.t4g.medium", false]);
    });

    it("refuses a server name longer than 40 characters", () => {
        assert.deepEqual(problems({ servers: { ["s".repeat(41)]: external }, tenants: [] }, { serverPasswordNames: ["s".repeat(41)] }), [
            `tenantdb:servers.${"s".repeat(41)}: server names are at most 40 characters`,
        ]);
    });

    it("applies the documented defaults", () => {
        const model = validateStackConfig(withTenant({ id: "acme" }), context);
        const tenant = model.tenants[0];
        assert.deepEqual(
            [tenant.plan, tenant.connectionLimit, tenant.backupRetentionDays, tenant.statementTimeoutMs, tenant.extensions],
            ["standard", 50, 30, 30000, []],
        );
        const server = model.servers.get("onprem")!;
        assert.deepEqual([server.capacity, server.locale, server.kind === "external" && server.sslmode], [50, "en_US.UTF-8", "require"]);
    });
});
