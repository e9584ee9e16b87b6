/** The control API's options, events and results (client.ts). */
import type { TenantState, Transition } from "../config/schema";
import type { FleetReport } from "../migrate/fleet";
import type { EngineSettings } from "./engine";
import type { FinalBackup } from "./final-backup";
import type { RoleDriftReport } from "./role-drift";

/** What happened, for a progress display or a log; never holds a secret. */
export type ControlEvent =
    | { readonly kind: "waiting"; readonly stack: string; readonly holder?: string }
    | { readonly kind: "leased"; readonly stack: string; readonly operation: string }
    | { readonly kind: "config-written"; readonly stack: string; readonly tenantId: string; readonly state?: TenantState }
    | { readonly kind: "engine"; readonly stack: string; readonly line: string }
    | { readonly kind: "engine-locked"; readonly stack: string }
    | { readonly kind: "backup"; readonly stack: string; readonly tenantId: string; readonly location: string }
    | { readonly kind: "migrated"; readonly stack: string; readonly report: FleetReport };

export interface ClientOptions extends EngineSettings {
    /** Who calls, recorded in the lease and in each lifecycle transition: `portal:alice`, `ci`. */
    readonly actor: string;
    /** Waiting for a busy stack, and when a dead holder's lease goes stale. */
    readonly lease?: { readonly waitMs?: number; readonly staleMs?: number };
    /** The verified final backup a suspension requires (final-backup.ts); suspend is refused without it. */
    readonly finalBackup?: FinalBackup;
    readonly onEvent?: (event: ControlEvent) => void;
    /** Clock, for the lifecycle's records and retention checks. */
    readonly now?: () => Date;
}

export interface CallOptions {
    readonly signal?: AbortSignal;
}

export interface ProvisionResult {
    readonly tenantId: string;
    readonly server: string;
    /** False when the same request had already provisioned this tenant (provisioning is idempotent). */
    readonly created: boolean;
    readonly migrations: FleetReport;
}

export interface MoveResult {
    readonly tenantId: string;
    readonly from: string;
    readonly to: string;
    /** URNs released from the state (the tenant's resources on `from`, all still on that server). */
    readonly released: number;
}

export interface LifecycleResult {
    readonly tenantId: string;
    readonly state: TenantState;
    /** The verified final backup a suspension was taken after. */
    readonly backup?: string;
}

export interface TenantStatus {
    readonly id: string;
    readonly plan: string;
    readonly server: string;
    readonly state: TenantState;
    /** When it entered its state, from its history (undefined for a tenant never transitioned). */
    readonly since?: string;
}

/** One tenant as its stack file declares it (client.show). */
export interface TenantDetail extends TenantStatus {
    readonly stack: string;
    /** `rds` or `external`. */
    readonly serverKind: string;
    readonly database: string;
    readonly connectionLimit: number;
    /** Extensions beyond the ones every tenant gets (uuid-ossp, pg_trgm). */
    readonly extensions: readonly string[];
    readonly backupRetentionDays: number;
    /** Its lifecycle transitions, oldest first. */
    readonly history: readonly Transition[];
}

/** status with the live check of every active tenant's login roles (client.liveStatus). */
export interface LiveStatus {
    readonly stack: string;
    readonly tenants: TenantStatus[];
    readonly roles: RoleDriftReport;
}
