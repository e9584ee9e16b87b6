/**
 * The cost part of a change preview: two stack files priced as `cost preview` prices them, each
 * tenant's change with its reasons. The figures are the ones test/cost/cli.test.ts works out.
 */
import * as assert from "node:assert/strict";
import { parseStackFile } from "../../src/config/sources/stack-file";
import { costOfStackFile } from "../../src/cost/stack-cost";
import { costChanges } from "../../src/preview/cost";
import { PRICED_STACK_FILE } from "../cost/fixtures";

const BASE = PRICED_STACK_FILE;

const priced = (text: string) => costOfStackFile(parseStackFile(text, "/project/Pulumi.prod.yaml"));
const cents = (usd: number) => Math.round(usd * 100) / 100;

describe("change preview: each tenant's monthly cost, with the reasons", function () {
    this.timeout(60_000);

    it("a tenant joining a shared server lowers its neighbours' share; a dedicated one pays its own server", async () => {
        const before = await priced(BASE);
        const after = await priced(`${BASE}    - id: hooli\n      server: shared-1\n    - id: initech\n      plan: enterprise\n`);
        const changes = Object.fromEntries(
            [...costChanges(before, after)].map(([id, c]) => [id, [cents(c.beforeUsd), cents(c.afterUsd), c.reasons]]),
        );
        // shared-1: $100.20, plus $0.24 of backups over the free 20 GB once hooli's 2 GB join
        // (2 + 5 + 2 GB x 2.5 = 22.5 GB): $100.44, split by 3 ($33.479). Own: acme and hooli $2.3555 (35.8347), globex $2.99375.
        assert.deepEqual(changes, {
            acme: [52.46, 35.83, ["shared-1 shared by 3 tenants instead of 2", "shared-1 costs $100.44 a month instead of $100.20"]],
            globex: [53.09, 36.47, ["shared-1 shared by 3 tenants instead of 2", "shared-1 costs $100.44 a month instead of $100.20"]],
            hooli: [
                0,
                35.83,
                [
                    "new tenant on shared-1 (standard)",
                    "$33.48 share of shared-1 ($100.44, 3 tenants)",
                    "$2.36 own resources (backup bucket, key, transfer)",
                ],
            ],
            initech: [
                0,
                102.56,
                [
                    "new tenant on ent-initech (enterprise)",
                    "its dedicated server ent-initech: $100.20",
                    "$2.36 own resources (backup bucket, key, transfer)",
                ],
            ],
        });
    });

    it("a tenant removed from the file: its cost ends; one moved to the enterprise plan says so", async () => {
        const before = await priced(BASE);
        const after = await priced(
            BASE.replace("    - id: globex\n      server: shared-1\n      expectedSizeGb: 5\n", "").replace(
                "    - id: acme\n      server: shared-1\n",
                "    - id: acme\n      plan: enterprise\n",
            ),
        );
        const changes = costChanges(before, after);
        assert.deepEqual(changes.get("globex")!.reasons, ["no longer declared: its cost ends"]);
        assert.equal(cents(changes.get("globex")!.afterUsd), 0);
        assert.deepEqual(changes.get("acme")!.reasons, ["plan standard -> enterprise", "server shared-1 -> ent-acme"]);
    });
});
