/**
 * The stack model: the validated config of one stack with every name it derives. It is the
 * contract between config and everything else: the Pulumi program, the migration runner, backups,
 * the cost preview, the local harness and the Automation API read tenants and servers from here
 * and never work a fact out again from strings.
 */
import { TenantNames } from "../naming";
import { rdsDefaultMaxConnections } from "./capacity";
import { BackupConfig, CellConfig, CostConfig, ExternalServerConfig, RdsServerConfig, TenantConfig } from "./schema";

export type ResolvedServer =
    | (RdsServerConfig & { readonly name: string; readonly componentName: string; readonly dedicatedTo?: string })
    | (ExternalServerConfig & { readonly name: string; readonly componentName: string; readonly dedicatedTo?: undefined });

export type ResolvedTenant = TenantConfig & {
    /** The server the tenant lives on (recorded in config, or its dedicated server). */
    readonly server: string;
    readonly backupRetentionDays: number;
    /** Its database and roles (src/naming.ts). */
    readonly names: TenantNames;
    /** Logical name of its TenantDatabase component: part of every URN of its resources. */
    readonly componentName: string;
};

export interface StackModel {
    readonly servers: ReadonlyMap<string, ResolvedServer>;
    readonly tenants: readonly ResolvedTenant[];
    readonly backup: BackupConfig;
    readonly cost: CostConfig;
    readonly cell: CellConfig;
}

/** The tenantdb config keys the model is built from, without their `tenantdb:` namespace. */
export const MODEL_KEYS = ["servers", "tenants", "backup", "cost", "dedicatedServer", "cell"] as const;
export type ModelKey = (typeof MODEL_KEYS)[number];

/** tenantdb config as it comes from a source, before validation. */
export type RawStackConfig = { [K in ModelKey]?: unknown };

/** The max_connections the program assumes for a server, or undefined for an unknown RDS class. */
export function serverMaxConnections(server: ResolvedServer): number | undefined {
    if (server.kind === "external") return server.maxConnections;
    return server.maxConnections ?? rdsDefaultMaxConnections(server.instanceClass);
}
