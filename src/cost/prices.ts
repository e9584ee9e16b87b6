/**
 * The prices data file: on-demand list prices for one region, every figure with its region,
 * the date it was recorded and its source. `prices/aws-us-east-1.json` ships with tenantdb;
 * users point `--prices` at their own copy (for another region, or negotiated rates).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { CostError } from "./errors";
import type { PricesSummary } from "./types";

const dateText = z.string().regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, "must be a date: YYYY, YYYY-MM or YYYY-MM-DD");

/** One price figure: its value and where it comes from. */
const figure = z.object({
    value: z.number().nonnegative(),
    unit: z.string().min(1),
    region: z.string().min(1),
    date: dateText,
    source: z.string().min(1),
});
export type PriceFigure = z.infer<typeof figure>;

const priceBookSchema = z.object({
    schemaVersion: z.literal(1),
    region: z.string().min(1),
    currency: z.literal("USD"),
    description: z.string().optional(),
    hoursPerMonth: figure,
    rds: z.object({
        instanceHourly: z.record(z.string(), figure),
        vcpus: z.object({ date: dateText, source: z.string().min(1), classes: z.record(z.string(), z.number().int().positive()) }),
        storageGbMonth: z.record(z.string(), figure),
        iopsMonth: z.record(z.string(), figure),
        gp3BaselineIops: z.object({
            belowThresholdIops: z.number().nonnegative(),
            atOrAboveThresholdIops: z.number().nonnegative(),
            thresholdGb: z.number().nonnegative(),
            date: dateText,
            source: z.string().min(1),
        }),
        backupGbMonth: figure,
        performanceInsights: z.object({ firstMonthPerVcpu: figure, additionalMonthPerVcpu: figure }),
    }),
    s3: z.object({ standardGbMonth: figure }),
    kms: z.object({ keyMonth: figure, per10kRequests: figure }),
    secretsManager: z.object({ secretMonth: figure }),
    cloudwatch: z.object({ standardAlarmMonth: figure, highResolutionAlarmMonth: figure, dashboardMonth: figure, freeDashboards: figure }),
    dataTransfer: z.object({ outToInternetGb: figure }),
});

/** A validated prices file. */
export type PriceBook = z.infer<typeof priceBookSchema>;

/** The prices file that ships with tenantdb for a region: `prices/aws-<region>.json` at the repository root. */
export function defaultPricesPath(region = "us-east-1"): string {
    return path.resolve(__dirname, "..", "..", "prices", `aws-${region}.json`);
}

/**
 * Validates a parsed prices file. Every problem is listed with its JSON path; figures whose
 * `region` differs from the file's `region` are rejected, so a file can never mix regions.
 */
export function parsePriceBook(value: unknown, origin = "prices file"): PriceBook {
    const result = priceBookSchema.safeParse(value);
    if (!result.success) {
        const problems = result.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
        throw new CostError(
            `${origin} is not a valid tenantdb prices file:\n  - ${problems.join("\n  - ")}\nFix those fields, or regenerate the file with \`npm run cost -- refresh-prices\`.`,
        );
    }
    const book = result.data;
    const wrongRegion = [...figures(book)].filter(([, f]) => f.region !== book.region).map(([at, f]) => `${at} has region "${f.region}"`);
    if (wrongRegion.length > 0) {
        throw new CostError(
            `${origin} covers region "${book.region}" but ${wrongRegion.join(", ")}; every figure must be for the file's region.`,
        );
    }
    return book;
}

/** Reads and validates a prices file; errors name the file and the fix. */
export function loadPriceBook(file: string): PriceBook {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (error) {
        throw new CostError(
            `Cannot read prices file ${file}: ${(error as Error).message}. Pass an existing file with --prices, or create one with \`npm run cost -- refresh-prices\`.`,
            { cause: error },
        );
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (error) {
        throw new CostError(`Prices file ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    return parsePriceBook(parsed, `Prices file ${file}`);
}

/** Every figure in the book with its JSON path, for checks and for the sources listing. */
export function* figures(book: PriceBook): Generator<[string, PriceFigure]> {
    yield ["hoursPerMonth", book.hoursPerMonth];
    for (const [key, f] of Object.entries(book.rds.instanceHourly)) yield [`rds.instanceHourly.${key}`, f];
    for (const [key, f] of Object.entries(book.rds.storageGbMonth)) yield [`rds.storageGbMonth.${key}`, f];
    for (const [key, f] of Object.entries(book.rds.iopsMonth)) yield [`rds.iopsMonth.${key}`, f];
    yield ["rds.backupGbMonth", book.rds.backupGbMonth];
    yield ["rds.performanceInsights.firstMonthPerVcpu", book.rds.performanceInsights.firstMonthPerVcpu];
    yield ["rds.performanceInsights.additionalMonthPerVcpu", book.rds.performanceInsights.additionalMonthPerVcpu];
    yield ["s3.standardGbMonth", book.s3.standardGbMonth];
    yield ["kms.keyMonth", book.kms.keyMonth];
    yield ["kms.per10kRequests", book.kms.per10kRequests];
    yield ["secretsManager.secretMonth", book.secretsManager.secretMonth];
    yield ["cloudwatch.standardAlarmMonth", book.cloudwatch.standardAlarmMonth];
    yield ["cloudwatch.highResolutionAlarmMonth", book.cloudwatch.highResolutionAlarmMonth];
    yield ["cloudwatch.dashboardMonth", book.cloudwatch.dashboardMonth];
    yield ["cloudwatch.freeDashboards", book.cloudwatch.freeDashboards];
    yield ["dataTransfer.outToInternetGb", book.dataTransfer.outToInternetGb];
}

/** Figure dates compare as text once padded: "2025" is before "2025-03", before "2025-03-05". */
function dateKey(date: string): string {
    return date.padEnd(10, "-");
}

/**
 * What a prices file says about itself for the report: its region and currency, the oldest and
 * newest figure dates, and the hosts its figures' sources cite (most cited first).
 */
export function summarizePrices(book: PriceBook, file?: string): PricesSummary {
    const dated: { date: string; source: string }[] = [...figures(book)].map(([, f]) => f);
    dated.push(book.rds.vcpus, book.rds.gp3BaselineIops);
    const dates = dated.map((f) => f.date).sort((a, b) => (dateKey(a) < dateKey(b) ? -1 : dateKey(a) > dateKey(b) ? 1 : 0));
    const hosts = new Map<string, number>();
    for (const { source } of dated) {
        const cited = new Set([...source.matchAll(/https?:\/\/([^/\s),;]+)/g)].map((m) => m[1].replace(/^www\./, "")));
        if (cited.size === 0) cited.add(/^ESTIMATE\b/.test(source) ? "estimate" : "uncited");
        for (const host of cited) hosts.set(host, (hosts.get(host) ?? 0) + 1);
    }
    const sources = [...hosts].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1)).map(([source, count]) => ({ source, figures: count }));
    return {
        ...(file ? { file } : {}),
        region: book.region,
        currency: book.currency,
        oldestDate: dates[0],
        newestDate: dates[dates.length - 1],
        figures: dated.length,
        sources,
    };
}
