/** Per-tenant backups, verified restores and restore drills (issue 5). */
export * from "./backup";
export * from "./drill";
export * from "./errors";
export * from "./inventory";
export * from "./list";
export * from "./manifest";
export { type PgTool, type PgTools, locatePgTools, toolsProblem } from "./pg-tools";
export * from "./restore";
export * from "./store";
export * from "./verify-backup";
