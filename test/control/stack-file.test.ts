import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../src/config/errors";
import { ConflictError } from "../../src/control/errors";
import { StackFileEdit } from "../../src/control/stack-file";

const FILE = `# the prod stack
config:
  tenantdb:servers:
    shared-1: { kind: external, host: pg.internal, maxConnections: 300 } # the big one
  tenantdb:tenants:
    - id: acme
      server: shared-1
`;

describe("stack file edits", () => {
    let dir: string;
    let file: string;
    beforeEach(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-edit-"));
        file = path.join(dir, "Pulumi.prod.yaml");
        writeFileSync(file, FILE);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it("records a transition in the tenant's history, keeping comments", () => {
        const edit = new StackFileEdit(file);
        edit.recordTransition("acme", {
            state: "suspended",
            at: "2026-12-01T10:00:00.000Z",
            by: "portal:alice",
            backup: "s3://b/backups/acme/x.dump",
            reason: undefined,
        });
        const model = edit.commit();
        assert.equal(model.tenants[0].state, "suspended");
        assert.equal(
            readFileSync(file, "utf8"),
            FILE +
                '      state: suspended\n      history:\n        - state: suspended\n          at: "2026-12-01T10:00:00.000Z"\n          by: portal:alice\n          backup: s3://b/backups/acme/x.dump\n',
        );
    });

    it("refuses to write over a file changed since it was read, and writes nothing", () => {
        const edit = new StackFileEdit(file);
        edit.appendTenant({ id: "globex", server: "shared-1" });
        writeFileSync(file, FILE.replace("# the prod stack", "# edited by hand"));
        assert.throws(() => edit.commit(), ConflictError);
        assert.equal(readFileSync(file, "utf8"), FILE.replace("# the prod stack", "# edited by hand"));
    });

    it("refuses a result that does not validate, and writes nothing", () => {
        const edit = new StackFileEdit(file);
        edit.appendTenant({ id: "acme", server: "shared-1" });
        assert.throws(
            () => edit.commit(),
            (error: Error) => error instanceof ConfigError && /tenantdb:tenants\[1\]\.id: duplicate id "acme"/.test(error.message),
        );
        assert.equal(readFileSync(file, "utf8"), FILE);
    });

    it("refuses a state written by hand without its transition", () => {
        writeFileSync(file, FILE + "      state: suspended\n");
        assert.throws(() => new StackFileEdit(file).model(), {
            message:
                "tenantdb config has 1 problem:\n  - tenantdb:tenants[0].state: is suspended but the last transition in history is active; change a tenant's state with npm run tenants -- suspend|resume|retire (or the control API), which records who and when",
        });
    });

    it("edits a tenant list the Automation API stored as a JSON string as a YAML list", () => {
        writeFileSync(
            file,
            `config:\n  tenantdb:servers: { s: { kind: external, host: h, maxConnections: 300 } }\n  tenantdb:tenants: '[{"id":"acme","server":"s"}]'\n`,
        );
        const edit = new StackFileEdit(file);
        edit.appendTenant({ id: "globex", server: "s" });
        edit.commit();
        assert.equal(
            readFileSync(file, "utf8"),
            "config:\n  tenantdb:servers: { s: { kind: external, host: h, maxConnections: 300 } }\n  tenantdb:tenants:\n    - id: acme\n      server: s\n    - id: globex\n      server: s\n",
        );
    });
});
