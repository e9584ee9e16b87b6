/**
 * A YAML file broken on a line that holds a secret: every reader says where it is broken and
 * never what the line says (the `yaml` library's own messages quote it, with a caret).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadInventory } from "../../src/backup/inventory";
import { parseStackFile } from "../../src/config/sources/stack-file";
import { readGraphFile } from "../../src/cost/graph-file";
import { parseTargets } from "../../src/migrate/targets";
import { parseYamlQuietly } from "../../src/shared/yaml";

const SECRET = "hunter2-Tr0ub4dor";
/** Line 3 holds the secret and is the broken one: a mapping inside a compact mapping, and an unclosed flow sequence. */
const BROKEN = `servers:\n  eu-1:\n    password: ${SECRET}: [x\n    user: admin\n`;
const WHERE =
    "line 3, column 15: Nested mappings are not allowed in compact mappings; " +
    "line 4, column 5: Flow sequence in block collection must be sufficiently indented and end with a ]";

function messageOf(fn: () => unknown): string {
    try {
        fn();
    } catch (error) {
        return (error as Error).message;
    }
    assert.fail("expected an error");
}

describe("Security: YAML parse errors never echo the file", () => {
    it("the quiet parser reports every problem by line and column, and parses good YAML as yaml does", () => {
        assert.equal(
            messageOf(() => parseYamlQuietly(BROKEN, "x.yaml")),
            `x.yaml is not valid YAML: ${WHERE}`,
        );
        assert.deepEqual(parseYamlQuietly("a: 1\nb: [x, 'y']\nc: {d: null}\n", "ok"), { a: 1, b: ["x", "y"], c: { d: null } });
        assert.deepEqual(parseYamlQuietly('{"a": [1, 2]}', "json"), { a: [1, 2] });
    });

    it("the stack file, the targets file and the backup inventory (YAML and JSON) name the line, not its text", () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-parse-"));
        try {
            const stack = messageOf(() =>
                parseStackFile(`config:\n  tenantdb:x: 1\n${BROKEN.replace("servers:\n", "")}`, "Pulumi.dev.yaml"),
            );
            const targets = messageOf(() => parseTargets(BROKEN, "targets.yaml", {}));
            writeFileSync(path.join(dir, "inv.yaml"), BROKEN);
            const inventory = messageOf(() => loadInventory(path.join(dir, "inv.yaml"), {}));
            writeFileSync(path.join(dir, "inv.json"), `{"servers": {"eu-1": {"password": "${SECRET}" x}}}`);
            const json = messageOf(() => loadInventory(path.join(dir, "inv.json"), {}));
            for (const message of [stack, targets, inventory, json]) assert.ok(!message.includes(SECRET), message);
            assert.equal(targets, `targets file targets.yaml is not valid YAML: ${WHERE}`);
            assert.equal(inventory, `backup inventory ${path.join(dir, "inv.yaml")} is not valid YAML: ${WHERE}`);
            assert.match(json, new RegExp(`^backup inventory ${path.join(dir, "inv.json")} is not valid YAML: line 1, column \\d+: `));
            assert.equal(
                stack,
                "tenantdb config has 1 problem:\n  - Pulumi.dev.yaml: is not valid YAML: line 4, column 15: Nested mappings are not allowed " +
                    "in compact mappings; line 5, column 5: Flow sequence in block collection must be sufficiently indented and end with a ]",
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("a saved cost graph that is not JSON is named by its position, never by its text (it holds passwords)", () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-parse-"));
        try {
            const file = path.join(dir, "graph.json");
            const text = `[{"type": "random:index/randomPassword:RandomPassword", "inputs": {"result": "${SECRET}" x}}]`;
            writeFileSync(file, text);
            const message = messageOf(() => readGraphFile(file));
            assert.equal(
                message,
                `Graph file ${file} is not valid JSON (at character ${text.indexOf(" x") + 1}); save it again with --save-graph`,
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
