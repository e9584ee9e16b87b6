/** The diff threshold and the prices line as pure functions: the cases the CLI tests do not reach. */
import * as assert from "node:assert/strict";
import { pricesLine } from "../../src/cost/format";
import { defaultPricesPath, loadPriceBook, summarizePrices } from "../../src/cost/prices";
import { thresholdBreach } from "../../src/cost/threshold";

describe("cost diff thresholds and the prices line", () => {
    it("a rise from $0.00 is above any percentage; a fall is above none; amounts compare in cents", () => {
        assert.equal(
            thresholdBreach(0, 0.9, { abovePercent: 1000 }),
            "the monthly total changes by +$0.90 ($0.00 -> $0.90): a rise from $0.00, more than --fail-above-percent 1000%",
        );
        assert.equal(thresholdBreach(10, 5, { aboveUsd: 0, abovePercent: 0 }), undefined);
        assert.equal(thresholdBreach(10, 10.004, { aboveUsd: 0 }), undefined); // +$0.00 as printed
        assert.equal(
            thresholdBreach(10, 10.005, { aboveUsd: 0 }),
            "the monthly total changes by +$0.01 ($10.00 -> $10.01): more than --fail-above $0.00",
        );
    });

    it("names the region and currency when no file is named (the sandbox's preview)", () => {
        assert.equal(
            pricesLine(summarizePrices(loadPriceBook(defaultPricesPath()))),
            "Prices: us-east-1, USD, 54 figures dated 2024-03-05 to 2026-06-13; sources: aws.amazon.com (50), usage.ai (4), infratally.com (3) and 11 more; each figure's date and source are in the file.",
        );
    });
});
