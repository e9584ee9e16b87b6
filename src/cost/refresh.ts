/**
 * Refreshes the prices file from the AWS Price List API (`@aws-sdk/client-pricing`, GetProducts).
 *
 * Refreshed: RDS for PostgreSQL instance hours (every class already in the file), RDS storage per
 * GB-month (gp2, gp3, io1, io2) and S3 Standard storage. Other figures (backup storage, IOPS,
 * Performance Insights, KMS, Secrets Manager, CloudWatch, data transfer) are carried over from the
 * current file; for another region their source says so, and the command lists them.
 *
 * Needs AWS credentials (any identity allowed `pricing:GetProducts`); without them it stops with
 * an error before any request. Tests inject a fake {@link PriceListSource}; no test calls AWS.
 */
import { existsSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { GetProductsCommand, PricingClient } from "@aws-sdk/client-pricing";
import { CostError } from "./errors";
import { PriceBook, PriceFigure, parsePriceBook } from "./prices";

/** Attribute filters for GetProducts (all TERM_MATCH). */
export type ProductFilters = Readonly<Record<string, string>>;

/** The one call refresh needs; the AWS implementation pages through GetProducts. */
export interface PriceListSource {
    getProducts(serviceCode: string, filters: ProductFilters): Promise<unknown[]>;
}

/** Where credentials would come from, by name only (never a value), or undefined when there are none. */
export function findCredentialSource(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string | undefined {
    if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) return "environment (AWS_ACCESS_KEY_ID)";
    if (env.AWS_PROFILE) return `profile ${env.AWS_PROFILE}`;
    if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) return "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)";
    if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return "container credentials";
    const sharedCredentials = env.AWS_SHARED_CREDENTIALS_FILE ?? path.join(home, ".aws", "credentials");
    if (existsSync(sharedCredentials)) return `shared credentials file ${sharedCredentials}`;
    const sharedConfig = env.AWS_CONFIG_FILE ?? path.join(home, ".aws", "config");
    if (existsSync(sharedConfig)) return `shared config file ${sharedConfig}`;
    return undefined;
}

/** Throws the "no credentials" error when {@link findCredentialSource} finds nothing. */
export function requireCredentials(env: NodeJS.ProcessEnv = process.env, home = os.homedir()): string {
    const source = findCredentialSource(env, home);
    if (!source) {
        throw new CostError(
            "refresh-prices needs AWS credentials to call the Price List API, and none were found. " +
                "Set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for an identity allowed pricing:GetProducts, then run it again. " +
                "Without credentials, keep using prices/aws-us-east-1.json or pass your own file with --prices.",
        );
    }
    return source;
}

/** The Price List API through the AWS SDK. The API is served from us-east-1 for every region's prices. */
export function awsPriceListSource(endpointRegion = "us-east-1"): PriceListSource {
    const client = new PricingClient({ region: endpointRegion });
    return {
        async getProducts(serviceCode, filters) {
            const products: unknown[] = [];
            let nextToken: string | undefined;
            do {
                const response = await client.send(
                    new GetProductsCommand({
                        ServiceCode: serviceCode,
                        Filters: Object.entries(filters).map(([Field, Value]) => ({ Type: "TERM_MATCH", Field, Value })),
                        FormatVersion: "aws_v1",
                        MaxResults: 100,
                        NextToken: nextToken,
                    }),
                );
                for (const item of (response.PriceList ?? []) as Array<string | object>)
                    products.push(typeof item === "string" ? JSON.parse(item) : item);
                nextToken = response.NextToken;
            } while (nextToken);
            return products;
        },
    };
}

interface PriceListProduct {
    product?: { attributes?: Record<string, string> };
    terms?: {
        OnDemand?: Record<
            string,
            { priceDimensions?: Record<string, { pricePerUnit?: { USD?: string }; beginRange?: string; unit?: string }> }
        >;
    };
}

/** The on-demand USD price of a Price List product: its first-tier (beginRange 0) dimension, or undefined. */
export function onDemandUsd(product: unknown): number | undefined {
    const terms = (product as PriceListProduct)?.terms?.OnDemand;
    if (!terms) return undefined;
    for (const term of Object.values(terms)) {
        for (const dimension of Object.values(term.priceDimensions ?? {})) {
            if (dimension.beginRange !== undefined && dimension.beginRange !== "0") continue;
            const usd = Number(dimension.pricePerUnit?.USD);
            if (Number.isFinite(usd) && usd > 0) return usd;
        }
    }
    return undefined;
}

/** Price List `volumeType` of each RDS storage type. */
export const RDS_VOLUME_TYPES: Readonly<Record<string, string>> = {
    gp2: "General Purpose",
    gp3: "General Purpose-GP3",
    io1: "Provisioned IOPS",
    io2: "Provisioned IOPS-IO2",
};

export interface RefreshResult {
    readonly book: PriceBook;
    /** JSON paths of figures refreshed from the API. */
    readonly refreshed: string[];
    /** JSON paths of figures carried over from the current file. */
    readonly carriedOver: string[];
}

/**
 * Builds a new prices file for `region` from the Price List API. `today` (YYYY-MM-DD) becomes
 * the date of refreshed figures.
 */
export async function refreshPrices(current: PriceBook, source: PriceListSource, region: string, today: string): Promise<RefreshResult> {
    const refreshed: string[] = [];
    const carriedOver: string[] = [];
    const apiSource = (serviceCode: string, filters: ProductFilters) =>
        `AWS Price List API GetProducts ${serviceCode} ${Object.entries(filters)
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")} (https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html)`;
    const carry = (at: string, f: PriceFigure): PriceFigure => {
        carriedOver.push(at);
        if (f.region === region) return f;
        return {
            ...f,
            region,
            source: `NOT REFRESHED: copied from the ${f.region} figure; verify for ${region}. Original source: ${f.source}`,
        };
    };
    const fetchFigure = async (
        at: string,
        serviceCode: string,
        filters: ProductFilters,
        unit: string,
        fallback: PriceFigure,
    ): Promise<PriceFigure> => {
        const products = await source.getProducts(serviceCode, filters);
        const prices = products.map(onDemandUsd).filter((p): p is number => p !== undefined);
        if (prices.length === 0) return carry(at, fallback);
        refreshed.push(at);
        return { value: Math.min(...prices), unit, region, date: today, source: apiSource(serviceCode, filters) };
    };

    const instanceHourly: Record<string, PriceFigure> = {};
    for (const [instanceClass, figure] of Object.entries(current.rds.instanceHourly)) {
        instanceHourly[instanceClass] = await fetchFigure(
            `rds.instanceHourly.${instanceClass}`,
            "AmazonRDS",
            {
                regionCode: region,
                productFamily: "Database Instance",
                databaseEngine: "PostgreSQL",
                deploymentOption: "Single-AZ",
                instanceType: instanceClass,
            },
            figure.unit,
            figure,
        );
    }
    const storageGbMonth: Record<string, PriceFigure> = {};
    for (const [storageType, figure] of Object.entries(current.rds.storageGbMonth)) {
        const volumeType = RDS_VOLUME_TYPES[storageType];
        storageGbMonth[storageType] = volumeType
            ? await fetchFigure(
                  `rds.storageGbMonth.${storageType}`,
                  "AmazonRDS",
                  {
                      regionCode: region,
                      productFamily: "Database Storage",
                      databaseEngine: "PostgreSQL",
                      deploymentOption: "Single-AZ",
                      volumeType,
                  },
                  figure.unit,
                  figure,
              )
            : carry(`rds.storageGbMonth.${storageType}`, figure);
    }
    const s3Standard = await fetchFigure(
        "s3.standardGbMonth",
        "AmazonS3",
        { regionCode: region, storageClass: "General Purpose", volumeType: "Standard" },
        current.s3.standardGbMonth.unit,
        current.s3.standardGbMonth,
    );

    const carryRecord = (prefix: string, record: Record<string, PriceFigure>) =>
        Object.fromEntries(Object.entries(record).map(([k, f]) => [k, carry(`${prefix}.${k}`, f)]));
    const book = {
        ...current,
        region,
        description:
            `${current.description ?? ""} Refreshed ${today} from the AWS Price List API: ${refreshed.length} figures; ${carriedOver.length} carried over.`.trim(),
        hoursPerMonth: { ...current.hoursPerMonth, region },
        rds: {
            ...current.rds,
            instanceHourly,
            storageGbMonth,
            iopsMonth: carryRecord("rds.iopsMonth", current.rds.iopsMonth),
            backupGbMonth: carry("rds.backupGbMonth", current.rds.backupGbMonth),
            performanceInsights: {
                firstMonthPerVcpu: carry("rds.performanceInsights.firstMonthPerVcpu", current.rds.performanceInsights.firstMonthPerVcpu),
                additionalMonthPerVcpu: carry(
                    "rds.performanceInsights.additionalMonthPerVcpu",
                    current.rds.performanceInsights.additionalMonthPerVcpu,
                ),
            },
        },
        s3: { standardGbMonth: s3Standard },
        kms: {
            keyMonth: carry("kms.keyMonth", current.kms.keyMonth),
            per10kRequests: carry("kms.per10kRequests", current.kms.per10kRequests),
        },
        secretsManager: { secretMonth: carry("secretsManager.secretMonth", current.secretsManager.secretMonth) },
        cloudwatch: {
            standardAlarmMonth: carry("cloudwatch.standardAlarmMonth", current.cloudwatch.standardAlarmMonth),
            highResolutionAlarmMonth: carry("cloudwatch.highResolutionAlarmMonth", current.cloudwatch.highResolutionAlarmMonth),
            dashboardMonth: carry("cloudwatch.dashboardMonth", current.cloudwatch.dashboardMonth),
            freeDashboards: carry("cloudwatch.freeDashboards", current.cloudwatch.freeDashboards),
        },
        dataTransfer: { outToInternetGb: carry("dataTransfer.outToInternetGb", current.dataTransfer.outToInternetGb) },
    };
    return { book: parsePriceBook(book, "refreshed prices"), refreshed, carriedOver };
}
