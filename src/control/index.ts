/**
 * tenantdb's library entry point (package.json `exports`): the control API for a portal, CI
 * and the CLI. See README, "Tenant lifecycle and the control API".
 */
export { TenantdbClient } from "./client";
export { FleetClient, cellsOf } from "./fleet";
export type { CellCommand, CellResult, FleetOptions } from "./fleet";
export type {
    CallOptions,
    ClientOptions,
    ControlEvent,
    LifecycleResult,
    LiveStatus,
    MoveResult,
    ProvisionResult,
    TenantDetail,
    TenantStatus,
} from "./types";
export { checkRoleDrift, describeRoleCheck, roleDriftExitCode } from "./role-drift";
export type { LoginResult, RoleCheck, RoleCheckOptions, RoleCheckTarget, RoleDriftReport, SettingDrift } from "./role-drift";
export {
    AbortedError,
    BusyError,
    ConflictError,
    ControlError,
    EngineError,
    InvalidRequestError,
    LeaseLostError,
    MigrationFailedError,
} from "./errors";
export { FinalBackupError, finalBackupFromInventory } from "./final-backup";
export type { FinalBackup } from "./final-backup";
export { leasePath, withStackLease } from "./lease";
export type { LeaseOptions } from "./lease";
export type { TenantState, Transition } from "../config/schema";
export type {
    ChangePreview,
    CostChange,
    InfrastructureChange,
    MigrationChange,
    ProposedChange,
    ResourceStep,
    TenantChange,
} from "../preview/types";
