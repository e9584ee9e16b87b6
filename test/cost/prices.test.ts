/** The prices data file: every figure sourced, validation errors that name the field and the fix. */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CostError } from "../../src/cost/errors";
import { defaultPricesPath, figures, loadPriceBook, parsePriceBook } from "../../src/cost/prices";

describe("prices file", () => {
    const book = loadPriceBook(defaultPricesPath());

    it("gives every figure its region, a date and a source", () => {
        const all = [...figures(book)];
        assert.equal(all.length, 52); // 32 instance classes + 4 storage + 3 IOPS + 13 others
        for (const [at, figure] of all) {
            assert.equal(figure.region, "us-east-1", at);
            assert.match(figure.date, /^\d{4}(-\d{2}(-\d{2})?)?$/, at);
            assert.match(figure.source, /https:\/\//, `${at} cites a URL`);
        }
    });

    it("has a price and a vCPU count for every common class", () => {
        for (const family of ["t3", "t4g"]) {
            for (const size of ["micro", "small", "medium", "large", "xlarge", "2xlarge"]) {
                assert.ok(book.rds.instanceHourly[`db.${family}.${size}`], `db.${family}.${size}`);
                assert.equal(
                    book.rds.vcpus.classes[`db.${family}.${size}`],
                    { micro: 2, small: 2, medium: 2, large: 2, xlarge: 4, "2xlarge": 8 }[size],
                );
            }
        }
        for (const family of ["m6g", "m7g", "m6i", "r6g", "r7g"]) {
            for (const size of ["large", "xlarge", "2xlarge", "4xlarge"]) {
                assert.ok(book.rds.instanceHourly[`db.${family}.${size}`], `db.${family}.${size}`);
                assert.equal(book.rds.vcpus.classes[`db.${family}.${size}`], { large: 2, xlarge: 4, "2xlarge": 8, "4xlarge": 16 }[size]);
            }
        }
    });

    it("lists every problem of an invalid file with its path", () => {
        const broken = JSON.parse(readFileSync(defaultPricesPath(), "utf8"));
        broken.rds.instanceHourly["db.t3.micro"].value = -1;
        delete broken.kms.keyMonth.source;
        assert.throws(
            () => parsePriceBook(broken, "my-prices.json"),
            new CostError(
                "my-prices.json is not a valid tenantdb prices file:\n" +
                    "  - rds.instanceHourly.db.t3.micro.value: Too small: expected number to be >=0\n" +
                    "  - kms.keyMonth.source: Invalid input: expected string, received undefined\n" +
                    "Fix those fields, or regenerate the file with `npm run cost -- refresh-prices`.",
            ),
        );
    });

    it("refuses a figure for another region than the file's", () => {
        const mixed = JSON.parse(readFileSync(defaultPricesPath(), "utf8"));
        mixed.s3.standardGbMonth.region = "eu-west-1";
        assert.throws(
            () => parsePriceBook(mixed, "mixed.json"),
            new CostError(
                'mixed.json covers region "us-east-1" but s3.standardGbMonth has region "eu-west-1"; every figure must be for the file\'s region.',
            ),
        );
    });

    it("names a missing file and the fix", () => {
        assert.throws(
            () => loadPriceBook("/nonexistent/prices.json"),
            (error: unknown) =>
                error instanceof CostError &&
                error.message.startsWith("Cannot read prices file /nonexistent/prices.json:") &&
                error.message.includes("--prices"),
        );
    });
});
