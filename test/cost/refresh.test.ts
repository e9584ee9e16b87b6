/** refresh-prices with a fake Price List source: no test calls AWS. */
import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CostError } from "../../src/cost/errors";
import { defaultPricesPath, loadPriceBook } from "../../src/cost/prices";
import {
    ProductFilters,
    PriceListSource,
    findCredentialSource,
    onDemandUsd,
    refreshPrices,
    requireCredentials,
} from "../../src/cost/refresh";

/** A Price List product as GetProducts returns it (aws_v1 format, parsed). */
function product(attributes: Record<string, string>, usd: string, beginRange = "0") {
    return {
        product: { productFamily: attributes.productFamily, attributes },
        terms: {
            OnDemand: {
                "ABC.JRTCKXETXF": {
                    priceDimensions: {
                        "ABC.JRTCKXETXF.6YS6EN2CT7": { unit: "Hrs", beginRange, endRange: "Inf", pricePerUnit: { USD: usd } },
                    },
                },
            },
        },
    };
}

class FakePriceList implements PriceListSource {
    readonly calls: Array<[string, ProductFilters]> = [];
    constructor(private readonly answer: (serviceCode: string, filters: ProductFilters) => unknown[]) {}
    async getProducts(serviceCode: string, filters: ProductFilters): Promise<unknown[]> {
        this.calls.push([serviceCode, filters]);
        return this.answer(serviceCode, filters);
    }
}

describe("refresh-prices", () => {
    const current = loadPriceBook(defaultPricesPath());

    it("reads the on-demand USD price of the first tier", () => {
        assert.equal(onDemandUsd(product({}, "0.0720000000")), 0.072);
        assert.equal(onDemandUsd(product({}, "0.0210000000", "51200")), undefined);
        assert.equal(onDemandUsd({ terms: {} }), undefined);
    });

    it("refreshes instance and storage prices from the API and carries the rest over, saying which", async () => {
        const source = new FakePriceList((serviceCode, filters) => {
            if (filters.instanceType === "db.t3.micro") return [product(filters, "0.0190000000")];
            if (filters.volumeType === "General Purpose-GP3") return [product(filters, "0.1150000000")];
            if (serviceCode === "AmazonS3") return [product(filters, "0.0230000000"), product(filters, "0.0220000000", "51200")];
            return [];
        });
        const result = await refreshPrices(current, source, "us-east-1", "2026-11-27");
        assert.deepEqual(result.book.rds.instanceHourly["db.t3.micro"], {
            value: 0.019,
            unit: "USD per instance-hour (Single-AZ)",
            region: "us-east-1",
            date: "2026-11-27",
            source: "AWS Price List API GetProducts AmazonRDS regionCode=us-east-1, productFamily=Database Instance, databaseEngine=PostgreSQL, deploymentOption=Single-AZ, instanceType=db.t3.micro (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html)",
        });
        assert.deepEqual(result.refreshed, ["rds.instanceHourly.db.t3.micro", "rds.storageGbMonth.gp3", "s3.standardGbMonth"]);
        assert.equal(result.book.s3.standardGbMonth.value, 0.023);
        // Not found by the API: kept as they were.
        assert.deepEqual(result.book.rds.instanceHourly["db.t3.small"], current.rds.instanceHourly["db.t3.small"]);
        assert.ok(result.carriedOver.includes("rds.instanceHourly.db.t3.small"));
        assert.ok(result.carriedOver.includes("kms.keyMonth"));
        assert.equal(source.calls.length, 32 + 4 + 1);
    });

    it("marks carried-over figures as not refreshed when pricing another region", async () => {
        const result = await refreshPrices(current, new FakePriceList(() => []), "eu-west-1", "2026-11-27");
        assert.equal(result.book.region, "eu-west-1");
        assert.equal(result.book.kms.keyMonth.region, "eu-west-1");
        assert.ok(result.book.kms.keyMonth.source.startsWith("NOT REFRESHED: copied from the us-east-1 figure; verify for eu-west-1."));
        assert.equal(result.refreshed.length, 0);
    });

    describe("credentials", () => {
        let home: string;
        before(() => {
            home = mkdtempSync(path.join(os.tmpdir(), "tenantdb-aws-"));
        });
        after(() => rmSync(home, { recursive: true, force: true }));

        it("finds them by source name, never by value", () => {
            assert.equal(
                findCredentialSource({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" }, home),
                "environment (AWS_ACCESS_KEY_ID)",
            );
            assert.equal(findCredentialSource({ AWS_PROFILE: "billing" }, home), "profile billing");
            assert.equal(findCredentialSource({}, home), undefined);
            writeFileSync(path.join(home, "credentials"), "[default]\n");
            assert.equal(
                findCredentialSource({ AWS_SHARED_CREDENTIALS_FILE: path.join(home, "credentials") }, home),
                `shared credentials file ${path.join(home, "credentials")}`,
            );
        });

        it("refuses without them, saying how to provide them", () => {
            assert.throws(
                () => requireCredentials({}, home),
                (error: unknown) =>
                    error instanceof CostError &&
                    error.message.includes("Set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"),
            );
        });
    });
});
