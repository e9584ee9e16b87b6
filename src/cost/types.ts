/**
 * The cost model's types, in one place: the planned graph the preview prices, the line items
 * pricing makes of it, the report allocation builds, and the diff of two reports. Types only, so
 * every module of src/cost can import them without depending on another's code.
 */
import type { PriceBook } from "./prices";

// ---- The planned graph -------------------------------------------------------------------

/**
 * One resource the program declares. A graph is what the Pulumi program declares, flattened:
 * the offline evaluator (SDK mock runtime, `src/program/offline.ts`) and the real preview
 * (Automation API, `src/cost/preview-graph.ts`) both produce it, components included.
 */
export interface PlannedResource {
    /** Pulumi type token, e.g. `aws:rds/instance:Instance`. */
    readonly type: string;
    /** Logical (Pulumi) name, e.g. `server-shared-1`. */
    readonly name: string;
    /**
     * Its URN, e.g. `urn:pulumi:dev::tenantdb::tenantdb:index:RdsServer$aws:rds/instance:Instance::server-shared-1`.
     * Every source sets it (saved graphs must have it); it is optional only for callers that price an
     * evaluation's `resources` directly (scripts/sandbox.ts), whose type allows hand-built ones without.
     */
    readonly urn?: string;
    /** Its parent's URN (a component's, or the root stack's); absent for the root stack. */
    readonly parent?: string;
    /**
     * Plain planned inputs, the shape of the mock runtime's `newResource` `args.inputs` and of
     * the engine's `resourcePreEvent.metadata.new.inputs`. Values unknown at preview time are absent.
     */
    readonly inputs: Record<string, unknown>;
}

/** The tags tenantdb puts on AWS resources (contract with the Pulumi program). */
export interface TenantdbTags {
    readonly tenant?: string;
    readonly plan?: string;
    readonly server?: string;
}

// ---- Assumptions -------------------------------------------------------------------------

/** How a shared server's cost is split between the tenants placed on it. */
export type AllocationRule = "equal" | "storage" | "connections";

/** Usage assumptions, with every default applied. */
export interface CostAssumptions {
    /** AWS region the prices must cover. Defaults to "us-east-1". */
    readonly region: string;
    /** Size of a tenant database without its own `expectedSizeGb`, in GB. Defaults to 1. */
    readonly databaseSizeGb: number;
    /** Fraction of a database that changes per day (RDS incremental backups). Defaults to 0.05. */
    readonly dailyChangeRate: number;
    /** Data transfer out to the internet per tenant per month, in GB. Defaults to 10. */
    readonly transferGbPerTenant: number;
    /** Split rule for shared servers. Defaults to "equal". */
    readonly allocation: AllocationRule;
    /** Per-tenant database size overrides in GB (`expectedSizeGb`), keyed by tenant id. Defaults to none. */
    readonly tenantSizesGb: Readonly<Record<string, number>>;
    /**
     * Compressed pg_dump size as a fraction of the database size. Not in `tenantdb:cost` yet;
     * defaults to 0.25 (custom-format dumps of ERP data, which is mostly text and numbers, compress 3-5x).
     */
    readonly dumpCompressionRatio: number;
    /**
     * KMS requests per customer managed key per month (one encrypt/decrypt per backup object, RDS
     * and S3 data key calls). Not in `tenantdb:cost` yet; defaults to 10,000. The account-wide free
     * tier of 20,000 requests is not subtracted.
     */
    readonly kmsRequestsPerKeyMonth: number;
    /**
     * Where each tenant lives and what each server is, from the stack config (the stack model).
     * When given, it decides placement and plan over the tags on AWS resources, and external
     * servers are known as such. Absent for a saved graph priced without a stack: tags decide.
     */
    readonly placement?: CostPlacement;
}

/** A server as the stack config declares it. */
export interface PlacedServer {
    readonly kind: "rds" | "external";
    readonly dedicatedTo?: string;
    /** What an external server costs per month, when `tenantdb:cost.servers.<name>.monthlyUsd` says; else it is unpriced. */
    readonly monthlyUsd?: number;
}

/** Placement from the stack config: every server by name, every tenant's server and plan by id. */
export interface CostPlacement {
    readonly servers: Readonly<Record<string, PlacedServer>>;
    readonly tenants: Readonly<Record<string, { readonly server: string; readonly plan: string }>>;
}

/** Input to `resolveAssumptions`: everything optional. */
export type CostAssumptionsInput = Partial<Omit<CostAssumptions, "tenantSizesGb">> & {
    readonly tenantSizesGb?: Readonly<Record<string, number>>;
};

// ---- Pricing -----------------------------------------------------------------------------

/** Who pays for a line item before allocation. */
export type Owner =
    | { readonly kind: "server"; readonly server: string }
    | { readonly kind: "tenant"; readonly tenant: string }
    | { readonly kind: "fleet" };

/** One billable dimension of one resource. */
export interface LineItem {
    readonly resourceType: string;
    readonly resourceName: string;
    /** What is billed, e.g. "instance hours", "storage (gp3)". */
    readonly item: string;
    readonly quantity: number;
    readonly unit: string;
    readonly unitPriceUsd: number;
    /** Expected monthly cost. */
    readonly monthlyUsd: number;
    /** Monthly cost with storage at its autoscaling ceiling; equal to `monthlyUsd` for other items. */
    readonly worstCaseMonthlyUsd: number;
    readonly owner: Owner;
    readonly note?: string;
}

/** A resource the prices file cannot price; never counted as zero. */
export interface UnpricedResource {
    readonly type: string;
    readonly name: string;
    readonly reason: string;
}

/** A server (RDS instance) found in the graph. */
export interface ServerInfo {
    readonly server: string;
    /** `external`: an existing PostgreSQL outside AWS (from config). Defaults to `rds`. */
    readonly kind?: "rds" | "external";
    readonly resourceName: string;
    readonly instanceClass?: string;
    readonly multiAz: boolean;
    /** Tenant id when the server is an enterprise tenant's dedicated server. */
    readonly dedicatedTo?: string;
}

/** A tenant found in the graph. */
export interface TenantInfo {
    readonly tenant: string;
    plan?: string;
    server?: string;
    /** `connectionLimit` of the tenant's database, when declared. */
    connectionLimit?: number;
}

/** Line items plus what allocation needs to know. */
export interface PricedGraph {
    readonly lineItems: LineItem[];
    readonly unpriced: UnpricedResource[];
    readonly freeResources: number;
    readonly servers: Map<string, ServerInfo>;
    readonly tenants: Map<string, TenantInfo>;
    readonly warnings: string[];
}

/** What every pricing function of one graph shares: the figures, who owns what, and where results go. */
export interface PricingContext {
    readonly prices: PriceBook;
    readonly assumptions: CostAssumptions;
    readonly ownerOf: (resource: PlannedResource) => Owner;
    readonly lineItems: LineItem[];
    readonly unpriced: UnpricedResource[];
    readonly warnings: string[];
}

// ---- Allocation and the report -----------------------------------------------------------

/** Cost of one server, before allocation. */
export interface ServerCost {
    readonly server: string;
    readonly kind: "rds" | "external";
    /**
     * False for an external server without a monthly price: tenantdb does not know what an existing
     * server costs, so its `monthlyUsd` is 0 and counted in no total (it is listed in `unpriced`).
     */
    readonly priced: boolean;
    readonly instanceClass?: string;
    readonly multiAz: boolean;
    readonly dedicatedTo?: string;
    readonly tenants: string[];
    readonly monthlyUsd: number;
    readonly worstCaseMonthlyUsd: number;
}

/** Cost of one tenant after allocation. */
export interface TenantCost {
    readonly tenant: string;
    readonly plan?: string;
    readonly server?: string;
    readonly sizeGb: number;
    /** Fraction of its server's cost this tenant carries (1 on a dedicated server). */
    readonly serverShare: number;
    /** Its share of server costs. */
    readonly serverShareUsd: number;
    /** False when its server is unpriced (an external server with no monthly price): its share is not counted. */
    readonly serverPriced: boolean;
    /** Costs of its own resources (bucket, KMS key, data transfer...). */
    readonly ownUsd: number;
    readonly monthlyUsd: number;
    readonly worstCaseMonthlyUsd: number;
}

/** What the prices file says about itself: the dates and sources of its figures. */
export interface PricesSummary {
    /** The file, when the caller named it (as given, relative to the working directory when it is under it). */
    readonly file?: string;
    readonly region: string;
    readonly currency: string;
    /** Oldest and newest figure dates (YYYY, YYYY-MM or YYYY-MM-DD). */
    readonly oldestDate: string;
    readonly newestDate: string;
    readonly figures: number;
    /** Where the figures come from: host names of the URLs the sources cite, most cited first, with their counts. */
    readonly sources: readonly { readonly source: string; readonly figures: number }[];
}

/** The cost preview of one configuration. Dollar amounts are unrounded; outputs round to cents. */
export interface CostReport {
    readonly region: string;
    readonly prices: PricesSummary;
    readonly allocation: AllocationRule;
    readonly assumptions: CostAssumptions;
    readonly totalMonthlyUsd: number;
    readonly worstCaseMonthlyUsd: number;
    readonly servers: ServerCost[];
    readonly tenants: TenantCost[];
    /** Costs no tenant carries: servers without tenants, resources outside every tenant's and server's component. */
    readonly unallocated: { readonly monthlyUsd: number; readonly worstCaseMonthlyUsd: number; readonly items: LineItem[] };
    readonly lineItems: LineItem[];
    readonly unpriced: UnpricedResource[];
    readonly freeResources: number;
    readonly warnings: string[];
}

// ---- Diff --------------------------------------------------------------------------------

export type ChangeStatus = "added" | "removed" | "changed" | "unchanged";

export interface TenantDelta {
    readonly tenant: string;
    readonly status: ChangeStatus;
    readonly beforePlan?: string;
    readonly afterPlan?: string;
    readonly beforeServer?: string;
    readonly afterServer?: string;
    readonly beforeUsd: number;
    readonly afterUsd: number;
    readonly deltaUsd: number;
}

export interface ServerDelta {
    readonly server: string;
    readonly kind: "rds" | "external";
    /** False when the server is unpriced before or after (an external server without a monthly price). */
    readonly priced: boolean;
    readonly status: ChangeStatus;
    readonly beforeUsd: number;
    readonly afterUsd: number;
    readonly deltaUsd: number;
}

export interface CostDiff {
    /** The prices the after configuration is priced with (both sides use one file). */
    readonly prices: PricesSummary;
    readonly beforeTotalUsd: number;
    readonly afterTotalUsd: number;
    readonly deltaUsd: number;
    readonly beforeWorstCaseUsd: number;
    readonly afterWorstCaseUsd: number;
    readonly worstCaseDeltaUsd: number;
    readonly beforeUnallocatedUsd: number;
    readonly afterUnallocatedUsd: number;
    readonly tenants: TenantDelta[];
    readonly servers: ServerDelta[];
    /** Unpriced resources of the after configuration (the before ones are in its own preview). */
    readonly unpricedAfter: CostReport["unpriced"];
    readonly warnings: string[];
}
