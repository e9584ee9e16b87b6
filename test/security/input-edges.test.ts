/**
 * Issue 14, item 10: input edge cases. Each gets a clear error naming the field or option and
 * the fix, and changes nothing: numbers with junk or absurd magnitudes, stack names that escape
 * the folder, broken YAML that used to price part of a stack, null fields in stack outputs,
 * plain-text passwords, negative sizes in a saved graph, and dry runs that approved what the
 * real run refuses. CLI cases run the real scripts; migrations run on the real PostgreSQL.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { stringify } from "yaml";
import { parseInventory } from "../../src/backup/inventory";
import { ConfigError } from "../../src/config/errors";
import { loadStackModel, withEveryServerPassword } from "../../src/config/load";
import { sourceFromAutomationConfig } from "../../src/config/sources/automation";
import { parseStackFile, stackFilePath } from "../../src/config/sources/stack-file";
import { StackNameError } from "../../src/config/stack-name";
import { parseGraph, writeGraphFile } from "../../src/cost/graph-file";
import { runFleet } from "../../src/migrate/fleet";
import { parseStackOutputs, parseTargets, targetsFromStackOutputs, TenantTarget } from "../../src/migrate/targets";
import { wholeNumberOption } from "../../src/shared/cli-numbers";
import { rdsServer, tenant } from "../cost/fixtures";
import { dropDeclaredTenant } from "../support/declared-tenants";
import { migrationsWith, removeMigrationDirs } from "../support/migration-dirs";
import { adminServer, createTenants, seedFor, targetOf } from "../support/migration-targets";

const ROOT = path.resolve(__dirname, "..", "..");

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** A script as an operator runs it (`npm run <script> -- ...`): its own process, exit code and output. */
function script(name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Run {
    const result = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", `${name}.ts`), ...args], {
        cwd: ROOT,
        env: { ...process.env, CI: "1", ...env },
        encoding: "utf8",
        timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The first line of stderr: commander follows an option error with the command's help. */
const firstLine = (run: Run) => run.stderr.split("\n")[0];

const messageOf = (action: () => unknown): string => {
    try {
        action();
    } catch (error) {
        return (error as Error).message;
    }
    assert.fail("expected an error");
};

/** A valid stack file: one RDS server, one tenant. */
const STACK = `config:
  tenantdb:servers:
    shared-1: { kind: rds, instanceClass: db.t4g.medium }
  tenantdb:tenants:
    - id: acme
      server: shared-1
`;

describe("input edge cases (issue 14, item 10)", function () {
    this.timeout(180_000);
    let dir: string;
    before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-edges-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** Writes `text` to `name` in the test folder; returns the path. */
    const file = (name: string, text: string) => {
        const at = path.join(dir, name);
        mkdirSync(path.dirname(at), { recursive: true });
        writeFileSync(at, text);
        return at;
    };

    describe("numbers with trailing junk or absurd magnitudes", () => {
        const concurrency = wholeNumberOption("--concurrency", 1, 256);
        const refused: Array<[string, string]> = [
            ["4abc", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "4abc"'],
            ["1e12", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "1e12"'],
            ["1000000000000", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "1000000000000"'],
            ["0x10", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "0x10"'],
            ["1e3", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "1e3"'],
            [" 4 ", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got " 4 "'],
            ["-1", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "-1"'],
            ["0", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "0"'],
            ["4.0", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got "4.0"'],
            ["", '--concurrency must be a whole number from 1 to 256 (decimal digits only), got ""'],
        ];
        for (const [value, message] of refused) {
            it(`the shared CLI parser refuses ${JSON.stringify(value)}`, () => {
                assert.throws(() => concurrency(value), { code: "commander.invalidArgument", message });
            });
        }

        it("the shared CLI parser reads decimal digits within the range", () => {
            assert.deepEqual(["1", "16", "256", "007"].map(concurrency), [1, 16, 256, 7]);
            assert.equal(wholeNumberOption("--max-failures", 0, 10)("0"), 0);
        });

        it("backup refuses --concurrency 1e12 and --jobs 0x10 before reading the inventory", () => {
            const run = script("backup", ["--config", path.join(dir, "no-such-inventory.yaml"), "all", "--concurrency", "1e12"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                firstLine(run),
                "error: option '--concurrency <n>' argument '1e12' is invalid. --concurrency must be a whole number from 1 to 64 (decimal digits only), got \"1e12\"",
            );
            const jobs = script("backup", ["--config", path.join(dir, "no-such-inventory.yaml"), "restore", "acme", "--jobs", "0x10"]);
            assert.equal(jobs.status, 1);
            assert.equal(
                firstLine(jobs),
                "error: option '--jobs <n>' argument '0x10' is invalid. --jobs must be a whole number from 1 to 64 (decimal digits only), got \"0x10\"",
            );
        });

        it("stack config numbers name their range and the fix, all at once, with absurd magnitudes refused", () => {
            const text = `config:
  tenantdb:servers:
    shared-1: { kind: rds, instanceClass: db.t4g.medium, allocatedStorageGb: 1e12, port: 5432 }
    onprem: { kind: external, host: h, port: "5432x", maxConnections: 1e9 }
  tenantdb:tenants:
    - id: acme
      server: shared-1
      connectionLimit: 4abc
      expectedSizeGb: 1e12
      statementTimeoutMs: -5.5
  tenantdb:cost:
    dailyChangeRate: 2
    transferGbPerTenant: .inf
  tenantdb:cell:
    capacity: 1e9
`;
            const error = messageOf(() => loadStackModel(withEveryServerPassword(parseStackFile(text, "Pulumi.x.yaml").source)));
            assert.equal(
                error,
                [
                    "tenantdb config has 10 problems:",
                    "  - tenantdb:servers.shared-1.allocatedStorageGb: must be a whole number from 20 to 65536 GB; write a number in that range without quotes or units, e.g. 100",
                    "  - tenantdb:servers.shared-1.port: is not a known field; check its spelling against the config reference in README.md",
                    "  - tenantdb:servers.onprem.port: must be a whole number from 1 to 65535; write a number in that range without quotes or units, e.g. 5432",
                    "  - tenantdb:servers.onprem.maxConnections: must be a whole number from 20 to 100000; write a number in that range without quotes or units, e.g. 100",
                    "  - tenantdb:tenants[0].connectionLimit: must be a whole number from 10 to 5000; write a number in that range without quotes or units, e.g. 50",
                    "  - tenantdb:tenants[0].statementTimeoutMs: must be a whole number from 1000 to 3600000 ms; write a number in that range without quotes or units, e.g. 30000",
                    "  - tenantdb:tenants[0].expectedSizeGb: must be a number above 0 and at most 65536 GB; write a number in that range without quotes or units, e.g. 5",
                    "  - tenantdb:cost.dailyChangeRate: must be a number from 0 to 1 (a fraction of the database per day); write a number in that range without quotes or units, e.g. 0.05",
                    "  - tenantdb:cost.transferGbPerTenant: must be a number from 0 to 1000000 GB per month; write a number in that range without quotes or units, e.g. 10",
                    "  - tenantdb:cell.capacity: must be a whole number from 1 to 200 tenants; write a number in that range without quotes or units, e.g. 25",
                ].join("\n"),
            );
        });

        it("cost preview refuses a stack file's junk numbers with exit 1, printing no table and writing no graph", () => {
            const config = file("numbers/Pulumi.numbers.yaml", STACK + "      connectionLimit: 1e9\n");
            const before = readFileSync(config);
            const graph = path.join(dir, "numbers", "graph.json");
            const run = script("cost", ["preview", "--config", config, "--save-graph", graph]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                "cost: tenantdb config has 1 problem:\n" +
                    "  - tenantdb:tenants[0].connectionLimit: must be a whole number from 10 to 5000; write a number in that range without quotes or units, e.g. 50\n",
            );
            assert.deepEqual(readFileSync(config), before);
            assert.equal(existsSync(graph), false);
        });
    });

    describe("stack names that escape the folder", () => {
        const RULE =
            'is not a valid stack name: use letters, digits, "-", "_" and "." only, not starting with "." and at most 100 characters ' +
            "(Pulumi's rule), e.g. --stack dev; the file read is Pulumi.<stack>.yaml in the project folder";

        for (const name of ["../../etc/x", "a/b", ".hidden", "..", "", "a b", "x".repeat(101), "a\\b", "dev\n"]) {
            it(`stackFilePath refuses ${JSON.stringify(name.length > 20 ? `${name.slice(0, 20)}...` : name)}`, () => {
                assert.throws(
                    () => stackFilePath(name, dir),
                    (error: unknown) => {
                        assert.ok(error instanceof StackNameError && error instanceof ConfigError);
                        const shown = JSON.stringify(name.length > 100 ? `${name.slice(0, 40)}...` : name);
                        assert.equal(error.message, `stack ${shown} ${RULE}`);
                        return true;
                    },
                );
            });
        }

        it("stackFilePath keeps names Pulumi allows in the folder", () => {
            for (const name of ["dev", "prod-eu.1", "Stage_2", "x".repeat(100)])
                assert.equal(stackFilePath(name, dir), path.join(dir, `Pulumi.${name}.yaml`));
        });

        it("cost preview --stack ../outside/x does not price a file outside the folder", () => {
            // Pulumi.../../outside/x.yaml resolves to <dir>/outside/x.yaml: a valid stack file there was priced before.
            const work = path.join(dir, "project");
            mkdirSync(work, { recursive: true });
            writeFileSync(path.join(work, "Pulumi.yaml"), "name: tenantdb\nruntime: nodejs\n");
            file("outside/x.yaml", STACK);
            const run = spawnSync(
                path.join(ROOT, "node_modules", ".bin", "tsx"),
                [path.join(ROOT, "scripts", "cost.ts"), "preview", "--stack", "../outside/x"],
                {
                    cwd: work,
                    encoding: "utf8",
                    timeout: 60_000,
                },
            );
            assert.equal(run.status, 1, run.stdout);
            assert.equal(run.stdout, "");
            assert.equal(run.stderr, `cost: stack "../outside/x" ${RULE}\n`);
        });

        it("the sandbox refuses --stack a/b before starting anything", () => {
            const work = path.join(dir, "sandbox-name");
            file("sandbox-name/Pulumi.yaml", "name: tenantdb\nruntime: nodejs\n");
            file("sandbox-name/Pulumi.a/b.yaml", STACK);
            const run = script("sandbox", ["--work-dir", work, "--stack", "a/b", "--once"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(run.stderr, `sandbox: stack "a/b" ${RULE}\n`);
            assert.equal(existsSync(path.join(work, ".tenantdb")), false, "no state folder, no server");
        });

        it("the tenants CLI (through the control client) refuses --stack ../x as an invalid request", () => {
            const run = script("tenants", ["--stack", "../x", "--work-dir", dir, "status"]);
            assert.equal(run.stdout, "");
            assert.equal(run.stderr, `tenants: stack "../x" ${RULE}\n`);
            assert.equal(run.status, 2);
        });

        it("the tenants CLI refuses --wait-seconds 1e12 and --connection-limit 0x10 before reading any file", () => {
            const wait = script("tenants", ["--wait-seconds", "1e12", "--work-dir", dir, "status"]);
            assert.equal(wait.status, 1);
            assert.equal(wait.stdout, "");
            assert.equal(
                firstLine(wait),
                "error: option '--wait-seconds <n>' argument '1e12' is invalid. --wait-seconds must be a whole number from 0 to 86400 (decimal digits only), got \"1e12\"",
            );
            const limit = script("tenants", ["--work-dir", dir, "add", "acme", "--connection-limit", "0x10"]);
            assert.equal(limit.status, 1);
            assert.equal(
                firstLine(limit),
                "error: option '--connection-limit <n>' argument '0x10' is invalid. --connection-limit must be a whole number from 1 to 5000 (decimal digits only), got \"0x10\"",
            );
        });
    });

    describe("broken YAML that exited 0 with a partial table", () => {
        const OUTDENTED = STACK + "tenantdb:tenants:\n  - id: globex\n    server: shared-1\n";

        it("cost preview refuses a stack file whose tenants lost their indentation under config:", () => {
            const config = file("yaml/Pulumi.outdented.yaml", OUTDENTED);
            const run = script("cost", ["preview", "--config", config]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `cost: tenantdb config has 1 problem:\n  - ${config}: top-level key "tenantdb:tenants" is not part of a Pulumi stack file ` +
                    "(config, environment, secretsprovider, encryptedkey, encryptionsalt); indent stack config under config: (e.g. two spaces before tenantdb:tenants:)\n",
            );
        });

        for (const [title, text] of [
            ["a single value", "config\n"],
            ["a list", "- config: {}\n"],
        ]) {
            it(`cost preview refuses a stack file that is ${title}`, () => {
                const config = file("yaml/Pulumi.shape.yaml", text);
                const run = script("cost", ["preview", "--config", config]);
                assert.equal(run.status, 1);
                assert.equal(run.stdout, "");
                assert.equal(
                    run.stderr,
                    `cost: tenantdb config has 1 problem:\n  - ${config}: must be a map with a config: key (a Pulumi stack file); it is a list or a single value\n`,
                );
            });
        }

        it("the sandbox refuses the outdented stack file before starting PostgreSQL", () => {
            const work = path.join(dir, "sandbox-yaml");
            file("sandbox-yaml/Pulumi.yaml", "name: tenantdb\nruntime: nodejs\n");
            const stackFile = file("sandbox-yaml/Pulumi.dev.yaml", OUTDENTED);
            const run = script("sandbox", ["--work-dir", work, "--once"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `sandbox: tenantdb config has 1 problem:\n  - ${stackFile}: top-level key "tenantdb:tenants" is not part of a Pulumi stack file ` +
                    "(config, environment, secretsprovider, encryptedkey, encryptionsalt); indent stack config under config: (e.g. two spaces before tenantdb:tenants:)\n",
            );
            assert.equal(existsSync(path.join(work, ".tenantdb")), false);
        });

        it("migrate refuses a targets file with a tenant outside tenants: (it was already refused: strict root)", () => {
            const targets = file(
                "yaml/targets.yaml",
                "tenants:\n  - { id: acme, server: s, host: h, passwordEnv: P }\nglobex: { server: s }\n",
            );
            const run = script("migrate", ["status", "--targets", targets], { P: "x" });
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `migrate: targets file ${targets} has 1 problem:\n  - globex: is not a known field (known: servers, tenants); check its spelling against the targets file in README.md\n`,
            );
        });

        it("backup refuses a broken inventory with exit 1 and no table (it already did)", () => {
            const inventory = file("yaml/inventory.yaml", "servers:\n  eu-1: { host: h, user: u, passwordEnv: P\ntenants: []\n");
            const run = script("backup", ["--config", inventory, "list"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `backup inventory ${inventory} is not valid YAML: line 3, column 1: Flow map in block collection must be sufficiently indented and end with a }\n`,
            );
        });
    });

    describe("null fields in stack outputs", () => {
        const acme = {
            database: "erp_acme",
            server: "pg-1",
            host: "h",
            port: 5432,
            roles: { owner: "erp_acme_owner", app: "erp_acme_app", readonly: "erp_acme_readonly", migrator: "erp_acme_migrator" },
        };
        const secrets = { acme: { migratorPassword: "m-secret-password" } };
        const FIX =
            "Export them again with: pulumi stack output --json --show-secrets > outputs.json (run pulumi up first if an older version of the program deployed the stack)";
        const cases: Array<[string, unknown, string]> = [
            [
                "roles: null",
                { tenants: { acme: { ...acme, roles: null } }, tenantSecrets: secrets },
                "tenants.acme.roles: must be an object { owner, app, readonly, migrator }",
            ],
            [
                "a null tenant",
                { tenants: { acme: null }, tenantSecrets: secrets },
                "tenants.acme: must be an object (the tenant's database, server, host, port and roles)",
            ],
            [
                "host: null",
                { tenants: { acme: { ...acme, host: null } }, tenantSecrets: secrets },
                "tenants.acme.host: must be a non-empty string",
            ],
            [
                "roles.migrator: null",
                { tenants: { acme: { ...acme, roles: { ...acme.roles, migrator: null } } }, tenantSecrets: secrets },
                "tenants.acme.roles.migrator: must be a non-empty string",
            ],
            [
                "port as a string",
                { tenants: { acme: { ...acme, port: "5432" } }, tenantSecrets: secrets },
                "tenants.acme.port: must be a port number from 1 to 65535",
            ],
            [
                "tenantSecrets: null",
                { tenants: { acme }, tenantSecrets: null },
                "tenantSecrets: must be an object keyed by tenant id (export it with --show-secrets)",
            ],
            [
                "a null secret entry",
                { tenants: { acme }, tenantSecrets: { acme: null } },
                "tenantSecrets.acme: must be an object holding migratorPassword",
            ],
        ];
        for (const [title, outputs, problem] of cases) {
            it(`targetsFromStackOutputs refuses ${title}, naming the field and how to export again`, () => {
                const message = messageOf(() => targetsFromStackOutputs(outputs as never));
                assert.equal(message, `stack outputs are not what the program exports: ${problem}. ${FIX}`);
                assert.ok(!message.includes("m-secret-password"));
            });
        }

        it("parseStackOutputs keeps what the program exports", () => {
            const outputs = { tenants: { acme }, tenantSecrets: secrets, servers: { "pg-1": { maxConnections: 5, kind: "external" } } };
            assert.deepEqual(parseStackOutputs(outputs), outputs);
        });

        it("migrate --stack-outputs refuses roles: null with exit 1, naming the file and field", () => {
            const outputs = file("outputs.json", JSON.stringify({ tenants: { acme: { ...acme, roles: null } }, tenantSecrets: secrets }));
            const run = script("migrate", ["up", "--stack-outputs", outputs]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `migrate: stack outputs ${outputs} are not what the program exports: tenants.acme.roles: must be an object { owner, app, readonly, migrator }. ${FIX}\n`,
            );
        });
    });

    describe("a plain-text value where a secret is required", () => {
        const PASSWORD = "hunter2-plain-text";

        it("a stack file's serverPasswords in plain text is refused naming pulumi config set --secret", () => {
            const text =
                "config:\n  tenantdb:servers:\n    onprem: { kind: external, host: h }\n    lab: { kind: external, host: l }\n" +
                `  tenantdb:serverPasswords:\n    onprem: ${PASSWORD}\n    lab:\n      secure: v1:AAAA\n`;
            const message = messageOf(() => loadStackModel(withEveryServerPassword(parseStackFile(text, "Pulumi.x.yaml").source)));
            assert.equal(
                message,
                "tenantdb config has 1 problem:\n  - tenantdb:serverPasswords.onprem: is plain text, but a password must be a secret: remove it from the stack file " +
                    "and run pulumi config set --secret --path 'serverPasswords.onprem' (it prompts for the value, or reads it from stdin)",
            );
            assert.ok(!message.includes(PASSWORD));
            // Set as a whole secret object, or each value secure: accepted.
            const secure = text.replace(`onprem: ${PASSWORD}`, "onprem:\n      secure: v1:BBBB");
            assert.equal(loadStackModel(parseStackFile(secure, "Pulumi.x.yaml").source).servers.size, 2);
        });

        it("cost preview refuses a plain serverPasswords value, printing neither the table nor the password", () => {
            const config = file("secrets/Pulumi.plain.yaml", STACK + `  tenantdb:serverPasswords: ${PASSWORD}\n`);
            const before = readFileSync(config);
            const run = script("cost", ["preview", "--config", config]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                "cost: tenantdb config has 1 problem:\n  - tenantdb:serverPasswords: is plain text, but a password must be a secret: remove it from the stack file " +
                    "and run pulumi config set --secret --path 'serverPasswords.<server>' (it prompts for the value, or reads it from stdin)\n",
            );
            assert.deepEqual(readFileSync(config), before);
        });

        it("the Automation API's config with serverPasswords not marked secret is refused", () => {
            const map = {
                "tenantdb:servers": { value: JSON.stringify({ onprem: { kind: "external", host: "h" } }), secret: false },
                "tenantdb:serverPasswords": { value: JSON.stringify({ onprem: PASSWORD }), secret: false },
            };
            const message = messageOf(() => loadStackModel(sourceFromAutomationConfig(map, "stack dev")));
            assert.equal(
                message,
                "tenantdb config has 1 problem:\n  - tenantdb:serverPasswords: is plain text, but a password must be a secret: remove it from the stack file " +
                    "and run pulumi config set --secret --path 'serverPasswords.<server>' (it prompts for the value, or reads it from stdin)",
            );
            const secret = { ...map, "tenantdb:serverPasswords": { ...map["tenantdb:serverPasswords"], secret: true } };
            assert.equal(loadStackModel(sourceFromAutomationConfig(secret, "stack dev")).servers.size, 1);
        });

        it("a targets file's password: and a seed's adminPassword: are refused naming passwordEnv and adminPasswordEnv", () => {
            const inline = messageOf(() =>
                parseTargets(`tenants:\n  - { id: acme, server: s, host: h, password: ${PASSWORD} }\n`, "t.yaml", {}),
            );
            assert.equal(
                inline,
                "targets file t.yaml has 1 problem:\n  - tenants[0].password: tenant acme: password is plain text in the file, but it must be a secret: remove it, put the password in an " +
                    "environment variable and name that variable in passwordEnv (e.g. passwordEnv: ACME_MIGRATOR_PASSWORD)",
            );
            const seed = messageOf(() =>
                parseTargets(
                    `tenants:\n  - { id: acme, server: s, host: h, passwordEnv: P, seed: { companyName: A, adminEmail: a@a.test, adminPassword: ${PASSWORD} } }\n`,
                    "t.yaml",
                    { P: "x" },
                ),
            );
            assert.equal(
                seed,
                "targets file t.yaml has 1 problem:\n  - tenants[0].seed.adminPassword: tenant acme: adminPassword is plain text in the file, but it must be a secret: remove it, put the password in an " +
                    "environment variable and name that variable in adminPasswordEnv (e.g. adminPasswordEnv: ACME_ADMIN_PASSWORD)",
            );
        });

        it("migrate refuses a targets file with an inline password, exit 1, password never printed", () => {
            const targets = file("secrets/targets.yaml", `tenants:\n  - { id: acme, server: s, host: 127.0.0.1, password: ${PASSWORD} }\n`);
            const run = script("migrate", ["status", "--targets", targets]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `migrate: targets file ${targets} has 1 problem:\n  - tenants[0].password: tenant acme: password is plain text in the file, but it must be a secret: remove it, put the password in an ` +
                    "environment variable and name that variable in passwordEnv (e.g. passwordEnv: ACME_MIGRATOR_PASSWORD)\n",
            );
        });

        it("a backup inventory's password: is refused naming passwordEnv (backup exits 1, password never printed)", () => {
            const raw = { servers: { "eu-1": { host: "h", user: "u", password: PASSWORD } }, tenants: [] };
            const expected =
                "servers.eu-1.password: is plain text in the inventory, but it must be a secret: remove it, put the password in an environment variable " +
                "and name that variable in passwordEnv (e.g. passwordEnv: TENANTDB_EU_1_PASSWORD)";
            assert.equal(
                messageOf(() => parseInventory(raw, {}, "inv.yaml")),
                `Invalid backup inventory inv.yaml:\n  ${expected}`,
            );
            const inventory = file("secrets/inventory.yaml", stringify(raw));
            const run = script("backup", ["--config", inventory, "list"]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(run.stderr, `Invalid backup inventory ${inventory}:\n  ${expected}\n`);
        });
    });

    describe("negative sizes in a saved graph", () => {
        const graph = (inputs: Record<string, unknown>) => [
            ...rdsServer("shared-1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, ...inputs }),
            ...tenant("acme", "shared-1"),
        ];
        /** Index of the RDS instance in the graph above. */
        const INSTANCE = 2;
        const cases: Array<[string, Record<string, unknown>, string]> = [
            [
                "allocatedStorage: -5",
                { allocatedStorage: -5 },
                "allocatedStorage must be a JSON number from 0 to 65536 (GB of storage), got -5",
            ],
            [
                "allocatedStorage as a numeric string",
                { allocatedStorage: "100" },
                "allocatedStorage must be a JSON number from 0 to 65536 (GB of storage), got a string",
            ],
            [
                "maxAllocatedStorage: 1e12",
                { maxAllocatedStorage: 1e12 },
                "maxAllocatedStorage must be a JSON number from 0 to 65536 (GB of storage), got 1000000000000",
            ],
            ["iops: -1", { iops: -1 }, "iops must be a JSON number from 0 to 256000 (provisioned IOPS), got -1"],
            [
                "backupRetentionPeriod: 1e9",
                { backupRetentionPeriod: 1e9 },
                "backupRetentionPeriod must be a JSON number from 0 to 35 (days), got 1000000000",
            ],
        ];
        for (const [title, inputs, problem] of cases) {
            it(`parseGraph refuses ${title}, naming graph file <f>[i].inputs.<field>`, () => {
                const message = messageOf(() => parseGraph(JSON.parse(JSON.stringify(graph(inputs))), "graph file g.json"));
                assert.equal(
                    message,
                    `graph file g.json[${INSTANCE}].inputs.${problem}; save the graph again with --save-graph instead of editing it`,
                );
            });
        }

        it("parseGraph refuses a negative lifecycle expiration and accepts connectionLimit -1 (no limit)", () => {
            const resources = graph({});
            const lifecycle = resources.findIndex((r) => r.type.includes("LifecycleConfiguration"));
            assert.ok(lifecycle >= 0);
            const edited = JSON.parse(JSON.stringify(resources));
            edited[lifecycle].inputs.rules[0].expiration = { days: -30 };
            assert.equal(
                messageOf(() => parseGraph(edited, "graph file g.json")),
                `graph file g.json[${lifecycle}].inputs.rules[0].expiration.days must be a JSON number from 0 to 109500 (days), got -30; ` +
                    "save the graph again with --save-graph instead of editing it",
            );
            const database = resources.findIndex((r) => r.type === "postgresql:index/database:Database");
            const unlimited = JSON.parse(JSON.stringify(resources));
            unlimited[database].inputs.connectionLimit = -1;
            assert.equal(parseGraph(unlimited, "g").length, resources.length);
        });

        it("cost preview --graph refuses allocatedStorage: -5 with exit 1 and no table", () => {
            const graphFile = path.join(dir, "negative-graph.json");
            writeGraphFile(graphFile, graph({ allocatedStorage: -5 }));
            const run = script("cost", ["preview", "--graph", graphFile]);
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                run.stderr,
                `cost: graph file ${graphFile}[${INSTANCE}].inputs.allocatedStorage must be a JSON number from 0 to 65536 (GB of storage), got -5; ` +
                    "save the graph again with --save-graph instead of editing it\n",
            );
        });
    });

    describe("a dry run that approves what the real run refuses (real PostgreSQL)", () => {
        const ID = "sec_edge_dry";
        let target: TenantTarget;
        let targetsFile: string;
        const env = () => ({ EDGE_MIGRATOR_PASSWORD: target.password });

        async function applied(): Promise<string[]> {
            const client = new Client({ ...adminServer(), database: target.database });
            await client.connect();
            try {
                return (await client.query("SELECT name FROM tenantdb.migrations ORDER BY name")).rows.map((r) => r.name);
            } finally {
                await client.end();
            }
        }
        const ALL = ["0001_baseline", "0002_reference_data", "0003_first_company", "0004_credentials_withheld"];

        /** The same command as a dry run and for real: both must refuse, with one message and one exit code. */
        function bothRefuse(args: string[]): Run {
            const dry = script("migrate", [...args, "--targets", targetsFile, "--json", "--dry-run"], env());
            const real = script("migrate", [...args, "--targets", targetsFile, "--json"], env());
            assert.equal(dry.status, 1, `dry run: ${dry.stdout}${dry.stderr}`);
            assert.equal(real.status, 1, `real run: ${real.stdout}${real.stderr}`);
            // A refused command prints { error } (and the message on stderr); a run, its report.
            const errorOf = (run: Run) => {
                const printed = JSON.parse(run.stdout) as { error?: string; tenants?: { outcome: string; error?: string }[] };
                return printed.error ?? printed.tenants!.map((t) => [t.outcome, t.error]);
            };
            assert.deepEqual(errorOf(dry), errorOf(real));
            return real;
        }

        before(async () => {
            await dropDeclaredTenant(adminServer(), ID);
            const [fixture] = await createTenants(adminServer(), [ID], 1);
            target = targetOf(adminServer(), fixture);
            const report = await runFleet([target], { mode: "up", seed: seedFor([ID]) });
            assert.equal(report.counts.ok, 1);
            targetsFile = file(
                "dry/targets.yaml",
                stringify({
                    servers: { local: { host: target.host, port: target.port } },
                    tenants: [{ id: ID, server: "local", passwordEnv: "EDGE_MIGRATOR_PASSWORD" }],
                }),
            );
        });
        after(async () => {
            removeMigrationDirs();
            await dropDeclaredTenant(adminServer(), ID);
        });

        it("a down through a migration without a down section: the dry run refuses it too, and nothing is reverted", async () => {
            const real = bothRefuse(["down", "--to", "0002_reference_data"]);
            const [[outcome, error]] = JSON.parse(real.stdout).tenants.map((t: { outcome: string; error: string }) => [t.outcome, t.error]);
            assert.equal(outcome, "failed");
            assert.equal(
                error,
                `tenant ${ID} (server local), step "plan": 0003_first_company has no down migration, so the tenant cannot go below it. ` +
                    "Fix: choose a --to at or above that migration, or write a new migration that undoes the change",
            );
            assert.deepEqual(await applied(), ALL);
        });

        it("an edited applied migration (checksum drift): both refuse with the same error", async () => {
            const dir = migrationsWith({
                "0002_reference_data.sql": readFileSync(path.join(ROOT, "migrations", "0002_reference_data.sql"), "utf8") + "\n-- edited\n",
                "0005_edge.sql": "-- migrate:up\nCREATE TABLE core.edge_marker (id int);\n",
            });
            const real = bothRefuse(["up", "--migrations", dir]);
            assert.match(JSON.parse(real.stdout).tenants[0].error, /0002_reference_data/);
            assert.deepEqual(await applied(), ALL);
        });

        it("a migration with transaction control: both refuse at load, before connecting", async () => {
            const dir = migrationsWith({ "0005_edge.sql": "-- migrate:up\nCREATE TABLE core.edge_marker (id int);\nCOMMIT;\n" });
            const real = bothRefuse(["up", "--migrations", dir]);
            assert.equal(
                real.stderr,
                `migrate: migration file ${path.join(dir, "0005_edge.sql")}: line 3: must not contain "COMMIT": the runner wraps each migration ` +
                    "in a transaction with its bookkeeping row. Fix: remove the statement; the migration commits or rolls back as a whole\n",
            );
            assert.deepEqual(await applied(), ALL);
        });

        it("an unknown --to: both refuse before connecting", async () => {
            const real = bothRefuse(["up", "--to", "0009_nothing"]);
            assert.equal(
                real.stderr,
                `migrate: --to 0009_nothing names no migration in ${path.join(ROOT, "migrations")} (known: ${ALL.join(", ")})\n`,
            );
            assert.deepEqual(await applied(), ALL);
        });

        it("migrate refuses --concurrency 1e12 (and --lock-wait 1e3) before a down could revert anything", async () => {
            const run = script("migrate", ["down", "--targets", targetsFile, "--concurrency", "1e12"], env());
            assert.equal(run.status, 1);
            assert.equal(run.stdout, "");
            assert.equal(
                firstLine(run),
                "error: option '--concurrency <n>' argument '1e12' is invalid. --concurrency must be a whole number from 1 to 256 (decimal digits only), got \"1e12\"",
            );
            const wait = script("migrate", ["down", "--targets", targetsFile, "--lock-wait", "1e3"], env());
            assert.equal(wait.status, 1);
            assert.equal(
                firstLine(wait),
                "error: option '--lock-wait <ms>' argument '1e3' is invalid. --lock-wait must be a whole number from 0 to 86400000 (decimal digits only), got \"1e3\"",
            );
            assert.deepEqual(await applied(), ALL);
        });
    });
});
