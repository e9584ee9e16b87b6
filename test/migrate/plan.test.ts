import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checksumOf, loadCatalog } from "../../src/migrate/catalog";
import { redact } from "../../src/shared/redact";
import { planWaves } from "../../src/migrate/fleet";
import { fingerprintOf, setFingerprintSql } from "../../src/migrate/fingerprint";
import { planTenant } from "../../src/migrate/plan";
import { loadSeedsFile, parseTargets, targetsFromStackOutputs, validateTenantId } from "../../src/migrate/targets";

const local = ["0001_a", "0002_b", "0003_c"].map((name) => ({ name, checksum: `sum-${name}`, hasDown: true }));
const applied = (...names: string[]) => names.map((name) => ({ name, checksum: `sum-${name}` }));

describe("planTenant", () => {
    const cases: Array<
        [
            string,
            Parameters<typeof planTenant>[1],
            Parameters<typeof planTenant>[2],
            { toApply: string[]; toRevert: string[]; target: string | null; version: string | null },
        ]
    > = [
        [
            "empty database, up",
            [],
            { mode: "up" },
            { toApply: ["0001_a", "0002_b", "0003_c"], toRevert: [], target: "0003_c", version: null },
        ],
        ["up --to the first", [], { mode: "up", to: "0001_a" }, { toApply: ["0001_a"], toRevert: [], target: "0001_a", version: null }],
        [
            "up to date",
            applied("0001_a", "0002_b", "0003_c"),
            { mode: "up" },
            { toApply: [], toRevert: [], target: "0003_c", version: "0003_c" },
        ],
        [
            "down without --to reverts the last",
            applied("0001_a", "0002_b"),
            { mode: "down" },
            { toApply: [], toRevert: ["0002_b"], target: "0001_a", version: "0002_b" },
        ],
        [
            "down --to keeps the named one",
            applied("0001_a", "0002_b", "0003_c"),
            { mode: "down", to: "0001_a" },
            { toApply: [], toRevert: ["0003_c", "0002_b"], target: "0001_a", version: "0003_c" },
        ],
        [
            "down --to 0 reverts all",
            applied("0001_a", "0002_b"),
            { mode: "down", to: "0" },
            { toApply: [], toRevert: ["0002_b", "0001_a"], target: null, version: "0002_b" },
        ],
        [
            "a missed older migration is pending",
            applied("0001_a", "0003_c"),
            { mode: "up" },
            { toApply: ["0002_b"], toRevert: [], target: "0003_c", version: "0003_c" },
        ],
    ];
    for (const [title, rows, request, expected] of cases) {
        it(title, () => {
            const plan = planTenant(local, rows, request);
            assert.deepEqual({ toApply: plan.toApply, toRevert: plan.toRevert, target: plan.target, version: plan.version }, expected);
            assert.deepEqual(plan.drift, []);
        });
    }

    it("reports edited and vanished migrations as drift", () => {
        const plan = planTenant(
            local,
            [
                { name: "0001_a", checksum: "old" },
                { name: "0000_gone", checksum: "x" },
            ],
            { mode: "status" },
        );
        assert.deepEqual(plan.drift, [
            { name: "0001_a", kind: "changed", applied: "old", local: "sum-0001_a" },
            { name: "0000_gone", kind: "missing-locally" },
        ]);
    });

    it("refuses down to a version that is not applied", () => {
        assert.throws(
            () => planTenant(local, applied("0001_a"), { mode: "down", to: "0002_b" }),
            /cannot go down to 0002_b: it is not applied/,
        );
    });
});

describe("planWaves", () => {
    it("puts canaries first, then the rest in waves of the given size", () => {
        assert.deepEqual(planWaves(["a", "b", "c", "d", "e"], { tenants: ["d"], waveSize: 2, maxFailures: 0 }), [
            ["d"],
            ["a", "b"],
            ["c", "e"],
        ]);
        assert.deepEqual(planWaves(["a", "b"]), [["a", "b"]]);
        assert.deepEqual(planWaves([]), []);
    });
});

describe("migration catalog", () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-catalog-"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("reads sections, settings and a checksum that ignores CRLF", () => {
        const text = "-- tenantdb: lock_timeout=1s statement_timeout=30s\n-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 2;\n";
        writeFileSync(path.join(dir, "0001_one.sql"), text.replace(/\n/g, "\r\n"));
        const [migration] = loadCatalog(dir, {}).migrations;
        assert.equal(migration.name, "0001_one");
        assert.equal(migration.lockTimeout, "1s");
        assert.equal(migration.statementTimeout, "30s");
        assert.equal(migration.upSql, "\nSELECT 1;\n");
        assert.equal(migration.downSql, "\nSELECT 2;\n");
        assert.equal(migration.upLine, 2);
        assert.equal(migration.checksum, checksumOf(text));
        assert.equal(migration.hasDown, true);
    });

    const refusals: Array<[string, string, RegExp]> = [
        [
            "0001_tx.sql",
            "-- migrate:up\nBEGIN;\nSELECT 1;\nCOMMIT;\n",
            /must not contain "BEGIN": the runner wraps each migration in a transaction with its bookkeeping row/,
        ],
        ["0001_commitwork.sql", "-- migrate:up\nSELECT 1;\nCOMMIT WORK;\n", /must not contain "COMMIT WORK"/],
        ["0001_abort.sql", "-- migrate:up\nSELECT 1; abort;\n", /must not contain "abort"/],
        ["0001_nomarker.sql", "SELECT 1;\n", /has no "-- migrate:up" line/],
        ["0001_badtimeout.sql", "-- tenantdb: lock_timeout=1;DROP\n-- migrate:up\nSELECT 1;\n", /lock_timeout "1;DROP" is not a duration/],
        ["1_badname.sql", "-- migrate:up\nSELECT 1;\n", /name must look like 0001_lower_snake_case/],
        ["0001_code.ts", "export {}", /is not registered in migrations\/index\.ts/],
    ];
    for (const [file, content, error] of refusals) {
        it(`refuses ${file}`, () => {
            writeFileSync(path.join(dir, file), content);
            assert.throws(() => loadCatalog(dir, {}), error);
        });
    }

    it("accepts BEGIN and END inside plpgsql bodies, strings and comments", () => {
        const body =
            "-- migrate:up\n-- BEGIN; in a comment\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $fn$\nBEGIN\n  RETURN 1;\nEND;\n$fn$;\nSELECT 'COMMIT;';\n";
        writeFileSync(path.join(dir, "0001_plpgsql.sql"), body);
        assert.deepEqual(
            loadCatalog(dir, {}).migrations.map((m) => m.name),
            ["0001_plpgsql"],
        );
    });

    it("loads the project's migrations in order", () => {
        assert.deepEqual(
            loadCatalog().migrations.map((m) => [m.name, m.hasDown]),
            [
                ["0001_baseline", true],
                ["0002_reference_data", true],
                ["0003_first_company", false],
                ["0004_credentials_withheld", true],
            ],
        );
    });
});

describe("fingerprint", () => {
    it("depends on names and checksums, not on order", () => {
        const one = fingerprintOf([
            { name: "0002_b", checksum: "y" },
            { name: "0001_a", checksum: "x" },
        ]);
        assert.equal(
            one,
            fingerprintOf([
                { name: "0001_a", checksum: "x" },
                { name: "0002_b", checksum: "y" },
            ]),
        );
        assert.match(one, /^tenantdb:migrations version=0002_b count=2 sha256=[0-9a-f]{64}$/);
        assert.notEqual(
            one,
            fingerprintOf([
                { name: "0001_a", checksum: "x" },
                { name: "0002_b", checksum: "z" },
            ]),
        );
        assert.equal(fingerprintOf([]), `tenantdb:migrations version=none count=0 sha256=${checksumOf("")}`);
        assert.throws(() => setFingerprintSql("x'; DROP"), /invalid fingerprint/);
    });
});

describe("targets", () => {
    const file = `
servers:
  pg-eu-1: { host: db1.internal, port: 6432, maxConnections: 12, sslmode: require }
tenants:
  - id: acme
    server: pg-eu-1
    passwordEnv: ACME_PW
    seed: { companyName: Acme Ltd, adminEmail: admin@acme.test, adminPasswordEnv: ACME_ADMIN }
  - id: globex
    server: pg-eu-1
    host: db2.internal
    passwordEnv: GLOBEX_PW
`;
    it("reads servers, tenants, secrets from the environment and seeds", () => {
        const { targets, seed } = parseTargets(file, "t.yaml", {
            ACME_PW: "pw-from-env",
            ACME_ADMIN: "admin-pw-from-env",
            GLOBEX_PW: "globex-pw-from-env",
        });
        assert.deepEqual(targets, [
            {
                tenantId: "acme",
                server: "pg-eu-1",
                host: "db1.internal",
                port: 6432,
                database: "erp_acme",
                user: "erp_acme_migrator",
                password: "pw-from-env",
                ssl: { rejectUnauthorized: false },
                maxConnections: 12,
            },
            {
                tenantId: "globex",
                server: "pg-eu-1",
                host: "db2.internal",
                port: 6432,
                database: "erp_globex",
                user: "erp_globex_migrator",
                password: "globex-pw-from-env",
                ssl: { rejectUnauthorized: false },
                maxConnections: 12,
            },
        ]);
        assert.deepEqual(seed, { acme: { companyName: "Acme Ltd", adminEmail: "admin@acme.test", adminPassword: "admin-pw-from-env" } });
    });

    const bad: Array<[string, string, NodeJS.ProcessEnv, RegExp]> = [
        [
            "a missing environment variable",
            file,
            { ACME_ADMIN: "x" },
            /targets file t\.yaml has 2 problems:\n {2}- tenants\[0\]\.passwordEnv: tenant acme: environment variable ACME_PW is not set; export it with the migrator role's password\n {2}- tenants\[1\]\.passwordEnv: tenant globex: environment variable GLOBEX_PW is not set/,
        ],
        [
            "an unknown field",
            "tenants:\n  - { id: acme, server: s, host: h, passwordEnv: P, pasword: q }\n",
            {},
            /targets file t\.yaml has 1 problem:\n {2}- tenants\[0\]\.pasword: is not a known field \(known: id, server, host, port, database, user, passwordEnv, seed\); check its spelling against the targets file in README\.md$/,
        ],
        [
            "an unsafe tenant id",
            "tenants:\n  - { id: 'acme\"; drop', server: s, host: h, passwordEnv: P }\n",
            {},
            /Invalid tenant id "acme\\"; drop": it must start with a lowercase letter and contain only a-z, 0-9 and _ \(no upper case, spaces, quotes, dashes or unicode\), e\.g\. acme_corp/,
        ],
        [
            "an unknown server",
            "tenants:\n  - { id: acme, server: s, passwordEnv: P }\n",
            {},
            /server "s" is not in servers and the tenant has no host/,
        ],
    ];
    for (const [title, text, env, error] of bad) {
        it(`refuses ${title}`, () => assert.throws(() => parseTargets(text, "t.yaml", env), error));
    }

    it("reads sslmode like stack config: disable, require, verify-full; loopback without one is plain, elsewhere TLS", () => {
        const ssl = (server: string) =>
            parseTargets(`servers:\n  s: ${server}\ntenants:\n  - { id: acme, server: s, passwordEnv: P }\n`, "t.yaml", { P: "x" })
                .targets[0].ssl;
        assert.equal(ssl("{ host: db1.internal, sslmode: disable }"), false);
        assert.deepEqual(ssl("{ host: db1.internal, sslmode: require }"), { rejectUnauthorized: false });
        assert.equal((ssl("{ host: db1.internal, sslmode: verify-full }") as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
        assert.equal(ssl("{ host: 127.0.0.1 }"), false);
        assert.deepEqual(ssl("{ host: db1.internal }"), { rejectUnauthorized: false });
    });

    it("reports every problem at once, in one round (shape and content), each with its path and fix, and no raw validator text", () => {
        const text = [
            "servers:",
            "  s: { host: '', port: 70000, ssl: { rejectUnauthorized: false }, sslmode: prefer, maxConnections: 1.5 }",
            "tenants:",
            "  - { id: acme, server: s, passwordEnv: P, port: x }",
            "  - { server: s }",
            "  - { id: globex, server: s, passwordEnv: P, seed: { companyName: G, adminEmail: a@g.test, adminPassword: hunter2hunter2 } }",
            "",
        ].join("\n");
        let message = "";
        try {
            parseTargets(text, "t.yaml", { P: "x" });
        } catch (error) {
            message = (error as Error).message;
        }
        assert.equal(
            message,
            [
                "targets file t.yaml has 7 problems:",
                "  - servers.s.host: must be a host name or address",
                "  - servers.s.port: must be a port number from 1 to 65535",
                "  - servers.s.sslmode: must be one of disable, require, verify-ca, verify-full (as in stack config)",
                "  - servers.s.maxConnections: must be a whole number of at least 1",
                "  - tenants[0].port: must be a port number from 1 to 65535",
                "  - tenants[1].id: must be a tenant id such as acme_corp",
                // globex's shape is fine: its content is checked in the same round (before, only once the file's shape was).
                "  - tenants[2].seed.adminPassword: tenant globex: adminPassword is plain text in the file, but it must be a secret: remove it, put the password in an environment variable and name that variable in adminPasswordEnv (e.g. adminPasswordEnv: GLOBEX_ADMIN_PASSWORD)",
            ].join("\n"),
        );
    });

    it("reads stack outputs, naming a tenant without its secret", () => {
        const outputs = {
            tenants: {
                acme: {
                    database: "erp_acme",
                    server: "pg-1",
                    host: "h",
                    port: 5432,
                    roles: { owner: "erp_acme_owner", app: "a", readonly: "r", migrator: "erp_acme_migrator" },
                },
            },
            tenantSecrets: { acme: { migratorPassword: "m", appPassword: "a", readonlyPassword: "r" } },
        };
        assert.deepEqual(targetsFromStackOutputs(outputs, { maxConnections: { "pg-1": 5 } }), [
            {
                tenantId: "acme",
                server: "pg-1",
                host: "h",
                port: 5432,
                database: "erp_acme",
                user: "erp_acme_migrator",
                ownerRole: "erp_acme_owner",
                password: "m",
                ssl: { rejectUnauthorized: false },
                maxConnections: 5,
            },
        ]);
        const local = { ...outputs.tenants.acme, host: "127.0.0.1", sslmode: "disable" };
        assert.equal(targetsFromStackOutputs({ ...outputs, tenants: { acme: local } })[0].ssl, false);
        assert.deepEqual(
            targetsFromStackOutputs({ ...outputs, tenants: { acme: { ...local, host: "db.internal", sslmode: "verify-full" } } })[0].ssl,
            { rejectUnauthorized: true },
        );
        assert.throws(
            () => targetsFromStackOutputs({ ...outputs, tenantSecrets: {} }),
            /tenantSecrets has no migratorPassword for tenant acme/,
        );
        // A suspended tenant's database takes no connections: it is not a target.
        const suspended = { ...outputs.tenants.acme, state: "suspended" };
        assert.deepEqual(
            targetsFromStackOutputs({
                ...outputs,
                tenants: { acme: suspended, beta: { ...outputs.tenants.acme, database: "erp_beta" } },
                tenantSecrets: { beta: outputs.tenantSecrets.acme },
            }).map((t) => t.tenantId),
            ["beta"],
        );
    });

    it("validates tenant ids and their derived identifiers' length", () => {
        assert.equal(validateTenantId("acme_2"), "acme_2");
        assert.throws(
            () => validateTenantId("a".repeat(30)),
            /^Error: Invalid tenant id "a{30}": it is longer than 29 characters: the database a restore keeps, erp_<id>_before_restore_<timestamp>, would pass PostgreSQL's 63-byte identifier limit; shorten it$/,
        );
    });

    it("redacts secrets from messages", () => {
        assert.equal(redact("auth failed for s3cret-pw at s3cret-pw", ["s3cret-pw"]), "auth failed for [redacted] at [redacted]");
    });
});

describe("seeds file (provisioning input for tenants from stack outputs)", () => {
    it("reads each tenant's first company and admin, the password from the environment only", () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-seeds-"));
        const file = `${dir}/seeds.yaml`;
        writeFileSync(file, "acme: { companyName: Acme Ltd, adminEmail: admin@acme.test, adminPasswordEnv: ACME_ADMIN }\n");
        assert.deepEqual(loadSeedsFile(file, { ACME_ADMIN: "s3cret-admin" }), {
            acme: { companyName: "Acme Ltd", adminEmail: "admin@acme.test", adminPassword: "s3cret-admin" },
        });
        assert.throws(
            () => loadSeedsFile(file, {}),
            /seeds file .*seeds\.yaml, tenant acme, seed: environment variable ACME_ADMIN is not set/,
        );
        writeFileSync(file, "Acme: { companyName: A, adminEmail: a@a.test, adminPasswordEnv: X }\n");
        assert.throws(() => loadSeedsFile(file, { X: "x" }), /Invalid tenant id "Acme"/);
    });
});
