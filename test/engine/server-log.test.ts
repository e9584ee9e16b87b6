/**
 * On a server of its own, with log_statement=all, a real `pulumi up`: role passwords never reach
 * the server's log (each CREATE ROLE carries the role's SCRAM verifier, never its password), and
 * the server's maintenance databases end up closed to PUBLIC, once, with no perpetual diff.
 */
import * as assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalServer, startLocalServer } from "../../src/local/embedded-server";
import { tenantNames } from "../../src/naming";
import { declaredTenantsConfig } from "../support/declared-tenants";
import { EngineProject, requireEngine, RESOURCES_PER_TENANT, STACK_RESOURCES, stackConfigOf } from "../support/engine";
import { withClient } from "../support/server";

const RESOURCES = STACK_RESOURCES + RESOURCES_PER_TENANT;

describe("Real engine: no role password in the server log, maintenance databases closed", function () {
    this.timeout(300_000);
    let root: string;
    let server: LocalServer | undefined;
    let project: EngineProject | undefined;
    let stack: automation.Stack;
    let firstUp: automation.UpResult;
    const log: string[] = [];
    /** The provider's statements revoking PUBLIC's privileges on a maintenance database, as logged so far. */
    const revokes = () =>
        log
            .join("\n")
            .split("\n")
            .filter((line) => /statement: REVOKE ALL PRIVILEGES ON DATABASE "(postgres|template1)" FROM "public"/.test(line))
            .map((line) => /DATABASE "(\w+)"/.exec(line)![1])
            .sort();

    before(async function () {
        const engine = requireEngine(this);
        root = mkdtempSync(path.join(os.tmpdir(), "tenantdb-server-log-"));
        server = await startLocalServer({
            dataDir: path.join(root, "pgdata"),
            settings: { log_statement: "all" },
            onServerLog: (message) => log.push(message),
        });
        project = EngineProject.create(engine);
        stack = await project.stack("dev", stackConfigOf(declaredTenantsConfig(server, [{ id: "logged", connectionLimit: 20 }])));
        firstUp = await stack.up();
    });

    after(async () => {
        project?.remove();
        await server?.stop();
        if (root) rmSync(root, { recursive: true, force: true });
    });

    it("logs each CREATE ROLE with a SCRAM verifier and no password of any role", async () => {
        const secrets = (await stack.outputs()).tenantSecrets.value.logged;
        const text = log.join("\n");
        const createRoles = text.split("\n").filter((line) => /statement: CREATE ROLE/.test(line));
        assert.equal(createRoles.length, 4);
        assert.equal(createRoles.filter((line) => /PASSWORD 'SCRAM-SHA-256\$4096:[^']+'/.test(line)).length, 3);
        for (const password of [secrets.appPassword, secrets.readonlyPassword, secrets.migratorPassword]) {
            assert.match(password, /^[A-Za-z0-9]{40}$/);
            assert.equal(text.includes(password), false);
        }
        assert.equal(text.includes(server!.password), false);
    });

    it("closes postgres and template1 to PUBLIC, and a refresh and a second up find nothing to do", async () => {
        assert.deepEqual(firstUp.summary.resourceChanges, { create: RESOURCES });
        assert.deepEqual(revokes(), ["postgres", "template1"]);
        const names = tenantNames("logged");
        const catalog = await withClient(server!, "postgres", async (admin) => ({
            acl: (
                await admin.query(
                    "SELECT datname, datacl::text[] AS acl FROM pg_database WHERE datname IN ('postgres', 'template1') ORDER BY 1",
                )
            ).rows,
            privileges: (
                await admin.query(
                    `SELECT r AS role, d AS database, has_database_privilege(r, d, 'CONNECT') AS connect, has_database_privilege(r, d, 'TEMPORARY') AS temporary
                     FROM unnest($1::text[]) r, unnest(ARRAY['postgres', 'template1']) d ORDER BY 1, 2`,
                    [[names.appRole, names.readonlyRole, names.migratorRole]],
                )
            ).rows,
        }));
        const owner = server!.user;
        assert.deepEqual(catalog.acl, [
            { datname: "postgres", acl: [`${owner}=CTc/${owner}`] },
            { datname: "template1", acl: [`${owner}=CTc/${owner}`] },
        ]);
        assert.deepEqual(
            catalog.privileges,
            [names.appRole, names.migratorRole, names.readonlyRole].flatMap((role) =>
                ["postgres", "template1"].map((database) => ({ role, database, connect: false, temporary: false })),
            ),
        );

        // A grant with no privileges reads back as what it declares: no drift on refresh, no step on up, no REVOKE run again.
        const refreshed = await stack.refresh();
        assert.deepEqual(refreshed.summary.resourceChanges, { same: RESOURCES });
        const again = await stack.up({ expectNoChanges: true });
        assert.deepEqual(again.summary.resourceChanges, { same: RESOURCES });
        assert.deepEqual(revokes(), ["postgres", "template1"]);
    });
});
