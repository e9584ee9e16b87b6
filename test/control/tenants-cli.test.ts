/**
 * `tenantdb tenants list | show | add` as a user runs them: the real bin in a subprocess, on a
 * project folder of its own; every --json parses, with its shape asserted (issue 13).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const BIN = path.resolve(__dirname, "../../bin/tenantdb.cjs");

function tenants(args: string[], cwd: string) {
    const run = spawnSync(process.execPath, [BIN, "tenants", ...args], {
        cwd,
        env: { ...process.env, NO_COLOR: "1" },
        encoding: "utf8",
        timeout: 60_000,
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const STACK = `config:
  tenantdb:servers:
    shared-a: { kind: external, host: db.internal, port: 5432, sslmode: require, maxConnections: 300 }
  tenantdb:tenants:
    - { id: acme, server: shared-a, connectionLimit: 20, extensions: [citext] }
    - id: globex
      server: shared-a
      state: suspended
      history:
        - { state: suspended, at: "2026-01-31T12:00:00Z", by: "portal:alice", reason: unpaid, backup: "s3://b/globex/final.dump" }
  tenantdb:backup: { buckets: false }
`;

describe("tenantdb tenants list | show | add", function () {
    this.timeout(120_000);
    let dir: string;

    beforeEach(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-tenants-cli-"));
        writeFileSync(path.join(dir, "Pulumi.yaml"), "name: tenantdb\nruntime: nodejs\n");
        writeFileSync(path.join(dir, "Pulumi.demo.yaml"), STACK);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("list prints the stack file's tenants as a plain table off a terminal", () => {
        assert.deepEqual(tenants(["--stack", "demo", "list"], dir), {
            status: 0,
            stderr: "",
            stdout: [
                "┌────────┬──────────┬──────────┬───────────┬──────────────────────┐",
                "│ tenant │ plan     │ server   │ state     │ since                │",
                "├────────┼──────────┼──────────┼───────────┼──────────────────────┤",
                "│ acme   │ standard │ shared-a │ active    │                      │",
                "├────────┼──────────┼──────────┼───────────┼──────────────────────┤",
                "│ globex │ standard │ shared-a │ suspended │ 2026-01-31T12:00:00Z │",
                "└────────┴──────────┴──────────┴───────────┴──────────────────────┘",
                "",
            ].join("\n"),
        });
    });

    it("list --json prints one JSON document: the stack and its tenants", () => {
        const run = tenants(["list", "--stack", "demo", "--json"], dir);
        assert.deepEqual([run.status, run.stderr], [0, ""]);
        assert.deepEqual(JSON.parse(run.stdout), {
            stack: "demo",
            tenants: [
                { id: "acme", plan: "standard", server: "shared-a", state: "active" },
                { id: "globex", plan: "standard", server: "shared-a", state: "suspended", since: "2026-01-31T12:00:00Z" },
            ],
        });
    });

    it("show <id> gives one tenant's plan, server, state, history, connection limit and extensions", () => {
        const text = tenants(["--stack", "demo", "show", "globex"], dir);
        assert.deepEqual(text, {
            status: 0,
            stderr: "",
            stdout: [
                "tenant            globex (stack demo)",
                "plan              standard",
                "server            shared-a (external)",
                "state             suspended since 2026-01-31T12:00:00Z",
                "database          erp_globex",
                "connection limit  50",
                "extensions        none (beyond uuid-ossp and pg_trgm)",
                "backup retention  30 days",
                "history",
                "  2026-01-31T12:00:00Z  suspended by portal:alice: unpaid (final backup s3://b/globex/final.dump)",
                "",
            ].join("\n"),
        });
        const json = tenants(["--stack", "demo", "show", "acme", "--json"], dir);
        assert.deepEqual([json.status, json.stderr], [0, ""]);
        assert.deepEqual(JSON.parse(json.stdout), {
            stack: "demo",
            id: "acme",
            plan: "standard",
            server: "shared-a",
            serverKind: "external",
            state: "active",
            database: "erp_acme",
            connectionLimit: 20,
            extensions: ["citext"],
            backupRetentionDays: 30,
            history: [],
        });
    });

    it("show of an unknown tenant exits 2 naming the stack's tenants, once, as JSON with --json", () => {
        assert.deepEqual(tenants(["--stack", "demo", "show", "nope"], dir), {
            status: 2,
            stdout: "",
            stderr: 'tenants: tenantId: no tenant "nope" in stack demo; its tenants: acme, globex\n',
        });
        const json = tenants(["--stack", "demo", "show", "nope", "--json"], dir);
        assert.equal(json.status, 2);
        assert.equal(json.stderr, "");
        assert.deepEqual(JSON.parse(json.stdout), {
            error: { code: "invalid_request", message: 'tenantId: no tenant "nope" in stack demo; its tenants: acme, globex' },
        });
    });

    it("add --json records the tenant and prints one JSON document; list then shows it", () => {
        const run = tenants(["--stack", "demo", "add", "initech", "--connection-limit", "25", "--json"], dir);
        assert.equal(run.status, 0, run.stderr);
        const added = JSON.parse(run.stdout) as Record<string, unknown>;
        assert.deepEqual(
            { tenantId: added.tenantId, server: added.server, created: added.created },
            {
                tenantId: "initech",
                server: "shared-a",
                created: true,
            },
        );
        assert.match(readFileSync(path.join(dir, "Pulumi.demo.yaml"), "utf8"), /initech/);
        const again = JSON.parse(tenants(["--stack", "demo", "add", "initech", "--connection-limit", "25", "--json"], dir).stdout) as {
            created: boolean;
        };
        assert.equal(again.created, false);
        const list = JSON.parse(tenants(["--stack", "demo", "list", "--json"], dir).stdout) as { tenants: { id: string }[] };
        assert.deepEqual(
            list.tenants.map((t) => t.id),
            ["acme", "globex", "initech"],
        );
    });
});
