/** Stack config reading (secrets never leave it), assumptions, diff and output formats. */
import * as assert from "node:assert/strict";
import { estimateCost } from "../../src/cost/allocate";
import { assumptionsFromModel, resolveAssumptions } from "../../src/cost/assumptions";
import { loadStackModel } from "../../src/config/load";
import { diffReports } from "../../src/cost/diff";
import { CostError } from "../../src/cost/errors";
import { formatDelta, formatUsd, renderDiff, renderReport, roundCents } from "../../src/cost/format";
import { fillPasswordPlaceholders, graphFromEvaluation } from "../../src/cost/offline-graph";
import { defaultPricesPath, loadPriceBook } from "../../src/cost/prices";
import { SECRET_PLACEHOLDER, parseStackFile } from "../../src/config/sources/stack-file";
import { rdsServer, ROOT, tenant } from "./fixtures";

const prices = loadPriceBook(defaultPricesPath());

describe("stack config and assumptions", () => {
    const yaml = `config:
  tenantdb:cost:
    region: us-east-1
    databaseSizeGb: 3
    allocation: storage
  tenantdb:servers:
    lab: { kind: external, host: lab.internal, maxConnections: 200 }
  tenantdb:tenants:
    - id: acme
      server: lab
      expectedSizeGb: 12
    - id: globex
      server: lab
  tenantdb:serverPasswords:
    lab:
      secure: v1:CIPHERTEXT
  aws:region: us-east-1
`;

    it("flattens config like Pulumi does and replaces secure values by a placeholder", () => {
        const stack = parseStackFile(yaml, "Pulumi.dev.yaml");
        assert.deepEqual(stack.secretKeys, ["tenantdb:serverPasswords"]);
        assert.equal(stack.config["tenantdb:serverPasswords"], JSON.stringify({ lab: SECRET_PLACEHOLDER }));
        assert.ok(!JSON.stringify(stack.config).includes("CIPHERTEXT"));
        assert.equal(stack.config["aws:region"], "us-east-1");
    });

    it("reads tenantdb:cost and per-tenant expectedSizeGb, with defaults for the rest", () => {
        const assumptions = assumptionsFromModel(loadStackModel(parseStackFile(yaml, "Pulumi.dev.yaml").source));
        assert.deepEqual(assumptions, {
            region: "us-east-1",
            databaseSizeGb: 3,
            dailyChangeRate: 0.05,
            transferGbPerTenant: 10,
            allocation: "storage",
            tenantSizesGb: { acme: 12 },
            dumpCompressionRatio: 0.25,
            kmsRequestsPerKeyMonth: 10000,
            // Placement from config (issue 13): the server's kind, each tenant's server and plan.
            placement: {
                servers: { lab: { kind: "external" } },
                tenants: { acme: { server: "lab", plan: "standard" }, globex: { server: "lab", plan: "standard" } },
            },
        });
    });

    it("names every bad field and its fix", () => {
        assert.throws(
            () => resolveAssumptions({ dailyChangeRate: 5, allocation: "random" as never, tenantSizesGb: { acme: -1 } }),
            new CostError(
                "Invalid cost assumptions:\n" +
                    "  - tenantdb:cost.dailyChangeRate is 5; set it to a fraction between 0 and 1 (0.05 means 5% a day)\n" +
                    '  - tenantdb:cost.allocation is "random"; use one of "equal", "storage", "connections"\n' +
                    '  - tenant "acme": expectedSizeGb is -1; set it to a number >= 0 or remove it to use tenantdb:cost.databaseSizeGb',
            ),
        );
    });

    it("fills placeholders for external servers' missing admin passwords only", () => {
        const config: Record<string, string> = {
            "tenantdb:servers": JSON.stringify({
                local: { kind: "external", host: "127.0.0.1" },
                lab: { kind: "external" },
                "shared-1": { kind: "rds" },
            }),
            "tenantdb:serverPasswords": JSON.stringify({ lab: "already-set" }),
        };
        assert.deepEqual(fillPasswordPlaceholders(config), ["local"]);
        assert.deepEqual(JSON.parse(config["tenantdb:serverPasswords"]), { lab: "already-set", local: SECRET_PLACEHOLDER });
    });

    it("reads the offline evaluator's result in either shape, with URNs, parents and the components", () => {
        const acme = "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase::tenant-acme";
        const component = { type: "tenantdb:index:TenantDatabase", name: "tenant-acme", urn: acme, parent: ROOT };
        const key = {
            type: "aws:kms/key:Key",
            name: "k",
            urn: "urn:pulumi:dev::tenantdb::tenantdb:index:TenantDatabase$aws:kms/key:Key::k",
            parent: acme,
        };
        const resources = [{ ...key, inputs: { tags: {} }, custom: true }];
        assert.deepEqual(graphFromEvaluation({ resources, components: [component] }), [
            { ...key, inputs: { tags: {} } },
            { ...component, inputs: {} },
        ]);
        assert.deepEqual(graphFromEvaluation(resources), [{ ...key, inputs: { tags: {} } }]);
    });

    it("refuses an evaluation whose resources carry no URN, since owners come from the component tree", () => {
        assert.throws(
            () => graphFromEvaluation({ resources: [{ type: "aws:kms/key:Key", name: "k", inputs: {} }] }),
            new CostError(
                "The offline evaluator returned aws:kms/key:Key k without its URN; the cost preview finds owners from the component tree and needs it.",
            ),
        );
    });
});

describe("diff and output", () => {
    const server = rdsServer("shared-1", { instanceClass: "db.t4g.medium", allocatedStorage: 20, backupRetentionPeriod: 1 });
    const before = estimateCost([...server, ...tenant("acme", "shared-1")], prices, resolveAssumptions());
    const after = estimateCost([...server, ...tenant("acme", "shared-1"), ...tenant("globex", "shared-1")], prices, resolveAssumptions());

    it("diffs per tenant and in total", () => {
        const diff = diffReports(before, after);
        // globex adds its own resources (1.03 KMS + 0.21275 S3 + 0.90 transfer) and takes half of the $50.45 server.
        assert.equal(roundCents(diff.deltaUsd), 2.14);
        assert.deepEqual(
            diff.tenants.map((t) => [t.tenant, t.status, roundCents(t.beforeUsd), roundCents(t.afterUsd), roundCents(t.deltaUsd)]),
            [
                ["acme", "changed", 52.59, 27.37, -25.23],
                ["globex", "added", 0, 27.37, 27.37],
            ],
        );
        assert.deepEqual(
            diff.servers.map((s) => [s.server, s.status]),
            [["shared-1", "unchanged"]],
        );
    });

    it("formats dollars to the cent", () => {
        assert.equal(formatUsd(1234.565), "$1,234.57");
        assert.equal(formatUsd(-3), "-$3.00");
        assert.equal(formatDelta(2.5), "+$2.50");
        assert.equal(formatDelta(0.001), "$0.00");
    });

    it("renders the diff as Markdown and JSON", () => {
        const diff = diffReports(before, after);
        const markdown = renderDiff(diff, "markdown");
        assert.ok(markdown.includes("Total $52.59 -> $54.74/month (+$2.14)."), markdown);
        assert.ok(markdown.includes("| globex | added | - -> standard | - -> shared-1 | $0.00 | $27.37 | +$27.37 |"), markdown);
        assert.equal(JSON.parse(renderDiff(diff, "json")).deltaUsd, 2.14);
    });

    it("lists unpriced resources in every format", () => {
        const report = estimateCost([{ type: "aws:elasticache/cluster:Cluster", name: "cache", inputs: {} }], prices, resolveAssumptions());
        assert.ok(renderReport(report, "table").includes("Unpriced (not counted in any total)"));
        assert.ok(
            renderReport(report, "markdown").includes(
                "| aws:elasticache/cluster:Cluster | cache | no price for this resource type in the cost preview |",
            ),
        );
        assert.deepEqual(JSON.parse(renderReport(report, "json")).unpriced, [
            { type: "aws:elasticache/cluster:Cluster", name: "cache", reason: "no price for this resource type in the cost preview" },
        ]);
    });
});
