import * as assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { addTenantToStackFile } from "../../src/control/stack-file";
import { ConfigError } from "../../src/config/errors";

const STACK = `# prod: two shared servers
config:
  tenantdb:servers:
    shared-1:
      kind: rds
      instanceClass: db.r6g.xlarge
      capacity: 2
    shared-2:
      kind: rds
      instanceClass: db.r6g.xlarge
      capacity: 2
  tenantdb:tenants:
    - id: acme # first customer
      server: shared-1
`;

function stackFile(text = STACK): string {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "tenantdb-config-")), "Pulumi.prod.yaml");
    writeFileSync(file, text);
    return file;
}

describe("adding a tenant to a stack file", () => {
    it("records the least-loaded server and keeps comments", () => {
        const file = stackFile();
        assert.equal(addTenantToStackFile(file, { id: "globex" }).server, "shared-2");
        assert.equal(addTenantToStackFile(file, { id: "initech", connectionLimit: 20 }).server, "shared-1");
        assert.equal(
            readFileSync(file, "utf8"),
            STACK + "    - id: globex\n      server: shared-2\n    - id: initech\n      server: shared-1\n      connectionLimit: 20\n",
        );
    });

    it("gives an enterprise tenant its dedicated server without writing one", () => {
        const file = stackFile();
        assert.equal(addTenantToStackFile(file, { id: "big_co", plan: "enterprise" }).server, "ent-big-co");
        assert.ok(readFileSync(file, "utf8").endsWith("    - id: big_co\n      plan: enterprise\n"));
    });

    it("refuses a bad or duplicate id and leaves the file untouched", () => {
        const file = stackFile();
        assert.throws(
            () => addTenantToStackFile(file, { id: "Robert'); DROP TABLE" }),
            (error: unknown) => error instanceof ConfigError && error.problems[0].path === "tenantdb:tenants[1].id",
        );
        assert.throws(() => addTenantToStackFile(file, { id: "acme" }), /duplicate id "acme" \(also tenants\[0\]\)/);
        assert.equal(readFileSync(file, "utf8"), STACK);
    });

    it("refuses when every server is full, naming the fix", () => {
        const file = stackFile();
        addTenantToStackFile(file, { id: "b" });
        addTenantToStackFile(file, { id: "c" });
        addTenantToStackFile(file, { id: "d" });
        assert.throws(
            () => addTenantToStackFile(file, { id: "e" }),
            /tenantdb:tenants\[4\]\.server: not set, and no shared server has room \(declared: shared-1, shared-2\); add a server to tenantdb:servers or raise a server's capacity/,
        );
    });
});

describe("adding a tenant to a stack file written by the Automation API", () => {
    it("reads a tenant list stored as a JSON string and writes the whole list back as YAML", () => {
        const file = stackFile(`config:
  tenantdb:servers:
    shared-1: { kind: rds, instanceClass: db.r6g.xlarge }
  tenantdb:tenants: '[{"id":"acme","server":"shared-1"}]'
`);
        assert.equal(addTenantToStackFile(file, { id: "globex" }).server, "shared-1");
        assert.ok(
            readFileSync(file, "utf8").endsWith(
                "  tenantdb:tenants:\n    - id: acme\n      server: shared-1\n    - id: globex\n      server: shared-1\n",
            ),
        );
    });

    it("refuses a tenant list that is not a list, writing nothing", () => {
        const text = "config:\n  tenantdb:tenants: { id: acme }\n";
        const file = stackFile(text);
        assert.throws(
            () => addTenantToStackFile(file, { id: "globex" }),
            /tenantdb:tenants is not a list; fix it by hand before adding tenants \(nothing was written\)/,
        );
        assert.equal(readFileSync(file, "utf8"), text);
    });
});
