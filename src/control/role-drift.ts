/**
 * Role drift PostgreSQL cannot prevent: any role may `ALTER ROLE` its own settings and
 * password. The live check logs in as each login role of a tenant with the password the stack
 * declares (a refused login, 28P01, is a password changed outside Pulumi; this works on RDS,
 * where pg_authid is unreadable) and compares the roles' own settings (pg_db_role_setting, which
 * every role may read) with what the program declares. It needs no admin: only the tenant's roles.
 */
import pLimit from "p-limit";
import { Client } from "pg";
import type { DeclaredRole } from "../local/declared-resources";
import { redact } from "../shared/redact";

export const LOGIN_ROLES = ["app", "readonly", "migrator"] as const;
export type LoginRole = (typeof LOGIN_ROLES)[number];

/** One login role as the stack declares it: its name, password and own settings (`rolconfig` entries). */
export interface DeclaredLoginRole {
    readonly name: string;
    readonly password: string;
    readonly settings: Readonly<Record<string, string>>;
}

/** One tenant to check: where its database is and its three login roles. */
export interface RoleCheckTarget {
    readonly tenantId: string;
    readonly server: string;
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly ssl?: boolean | object;
    readonly roles: Readonly<Record<LoginRole, DeclaredLoginRole>>;
}

/** How logging in with the declared password went. */
export type LoginResult = "ok" | "password-changed" | "login-disabled" | "missing" | "unreachable";

/** A setting that differs from the declaration: null is unset. `scope` "database" is an `ALTER ROLE ... IN DATABASE` setting. */
export interface SettingDrift {
    readonly name: string;
    readonly scope: "role" | "database";
    readonly declared: string | null;
    readonly actual: string | null;
}

export interface RoleCheck {
    readonly tenantId: string;
    readonly server: string;
    readonly database: string;
    readonly role: LoginRole;
    readonly roleName: string;
    /** drift: the password or a setting is not what the stack declares; unreachable: could not tell. */
    readonly status: "ok" | "drift" | "unreachable";
    readonly login: LoginResult;
    /** Differences from the declared settings; null when no role of the tenant could log in to read them. */
    readonly settings: readonly SettingDrift[] | null;
    /** Why the check could not log in (SQLSTATE and the server's words), never a password. */
    readonly reason?: string;
}

export interface RoleDriftReport {
    readonly checkedAt: string;
    readonly counts: Record<RoleCheck["status"], number>;
    readonly roles: readonly RoleCheck[];
}

export interface RoleCheckOptions {
    /** Logging in gives up after this long. Defaults to 10 000 ms. */
    readonly connectionTimeoutMs?: number;
    /** Tenants checked at once (three connections each, one at a time). Defaults to 4. */
    readonly concurrency?: number;
}

/**
 * The role's own settings the program declares, as the provider writes them (`ALTER ROLE ...
 * SET`; src/local/apply-resources.ts applies them the same way): timeouts in milliseconds, 0 for
 * none, and `role` for assumeRole. search_path is reset by the provider, so declared absent.
 */
export function declaredRoleSettings(role: DeclaredRole): Record<string, string> {
    const settings: Record<string, string> = {};
    if (role.statementTimeout !== 0) settings.statement_timeout = String(role.statementTimeout);
    if (role.idleInTransactionSessionTimeout !== 0)
        settings.idle_in_transaction_session_timeout = String(role.idleInTransactionSessionTimeout);
    if (role.assumeRole) settings.role = role.assumeRole;
    return settings;
}

/** Settings whose plain numbers are milliseconds (PostgreSQL's unit for them). */
const MILLISECOND_SETTINGS = new Set(["statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout", "idle_session_timeout"]);
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a time setting's value ("30000", "30s", "5min"), or undefined if it is not one. */
export function millisecondsOf(value: string): number | undefined {
    const match = /^\s*(-?\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value);
    return match ? Number(match[1]) * TIME_UNITS[match[2] ?? "ms"] : undefined;
}

/** A value as people read it: "30s", "5min", "0"; settings that are not times as they are. */
export function displaySetting(name: string, value: string): string {
    const ms = MILLISECOND_SETTINGS.has(name) ? millisecondsOf(value) : undefined;
    if (ms === undefined) return value;
    for (const [unit, size] of [
        ["d", 86_400_000],
        ["h", 3_600_000],
        ["min", 60_000],
        ["s", 1000],
    ] as const) {
        if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
    }
    return ms === 0 ? "0" : `${ms}ms`;
}

function sameSetting(name: string, declared: string, actual: string): boolean {
    if (MILLISECOND_SETTINGS.has(name)) {
        const [a, b] = [millisecondsOf(declared), millisecondsOf(actual)];
        if (a !== undefined && b !== undefined) return a === b;
    }
    return declared === actual;
}

/** `rolconfig`-style entries ("name=value") as a map. */
function settingsMap(config: readonly string[] | null): Map<string, string> {
    return new Map((config ?? []).map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]));
}

/** The declared role-wide settings against the actual ones, and every in-database setting (none is declared). */
export function settingsDrift(
    declared: Readonly<Record<string, string>>,
    roleWide: readonly string[] | null,
    inDatabase: readonly string[] | null,
): SettingDrift[] {
    const actual = settingsMap(roleWide);
    const names = [...new Set([...Object.keys(declared), ...actual.keys()])].sort();
    const drift: SettingDrift[] = [];
    for (const name of names) {
        const want = declared[name] ?? null;
        const have = actual.get(name) ?? null;
        const same = want === null || have === null ? want === have : sameSetting(name, want, have);
        if (!same) drift.push({ name, scope: "role", declared: want, actual: have });
    }
    for (const [name, value] of [...settingsMap(inDatabase)].sort(([a], [b]) => (a < b ? -1 : 1)))
        drift.push({ name, scope: "database", declared: null, actual: value });
    return drift;
}

interface DriverError {
    code?: string;
    routine?: string;
    message?: string;
}

/** What a refused login means. The server function (`routine`) tells apart the 28000s, whatever lc_messages says. */
function classifyLogin(error: unknown, secrets: readonly string[]): { login: LoginResult; reason?: string } {
    const { code, routine, message = String(error) } = (error ?? {}) as DriverError;
    if (code === "28P01") return { login: "password-changed" };
    if (code === "28000" && (routine === "InitializeSessionUserId" || /is not permitted to log in/.test(message)))
        return { login: "login-disabled" };
    // A SQLSTATE is worth printing; Node's error codes (ECONNREFUSED) are in their message already.
    const sqlstate = code && /^[0-9A-Z]{5}$/.test(code) ? `${code} ` : "";
    return { login: "unreachable", reason: redact(`${sqlstate}${message}`, secrets) };
}

const SETTINGS_SQL = `
    SELECT r.rolname::text AS role,
           (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = r.oid AND s.setdatabase = 0) AS role_wide,
           (SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
             WHERE s.setrole = r.oid AND d.datname = current_database()) AS in_database
      FROM pg_roles r WHERE r.rolname = ANY($1::text[])`;

async function checkTenant(target: RoleCheckTarget, options: RoleCheckOptions): Promise<RoleCheck[]> {
    const secrets = LOGIN_ROLES.map((role) => target.roles[role].password);
    const clients: Client[] = [];
    const logins = new Map<LoginRole, { login: LoginResult; reason?: string }>();
    try {
        for (const role of LOGIN_ROLES) {
            const client = new Client({
                host: target.host,
                port: target.port,
                database: target.database,
                user: target.roles[role].name,
                password: target.roles[role].password,
                ssl: target.ssl as never,
                connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
                application_name: "tenantdb-role-check",
            });
            client.on("error", () => undefined);
            try {
                await client.connect();
                clients.push(client);
                logins.set(role, { login: "ok" });
            } catch (error) {
                await client.end().catch(() => undefined);
                logins.set(role, classifyLogin(error, secrets));
            }
        }
        // pg_roles and pg_db_role_setting are readable by every role: any login that worked reads all three.
        let rows: { role: string; role_wide: string[] | null; in_database: string[] | null }[] | undefined;
        let readError: string | undefined;
        if (clients[0]) {
            try {
                rows = (await clients[0].query(SETTINGS_SQL, [LOGIN_ROLES.map((role) => target.roles[role].name)])).rows;
            } catch (error) {
                readError = classifyLogin(error, secrets).reason;
            }
        }
        return LOGIN_ROLES.map((role): RoleCheck => {
            const declared = target.roles[role];
            const row = rows?.find((r) => r.role === declared.name);
            let { login, reason } = logins.get(role)!;
            // A role that does not exist is refused like a wrong password (the server does not say which).
            if (rows && !row && login === "password-changed") login = "missing";
            const settings = row ? settingsDrift(declared.settings, row.role_wide, row.in_database) : null;
            if (!reason && settings === null && login === "ok") reason = readError;
            const drifted = (login !== "ok" && login !== "unreachable") || (settings?.length ?? 0) > 0;
            return {
                tenantId: target.tenantId,
                server: target.server,
                database: target.database,
                role,
                roleName: declared.name,
                status: drifted ? "drift" : login === "unreachable" || settings === null ? "unreachable" : "ok",
                login,
                settings,
                ...(reason ? { reason } : {}),
            };
        });
    } finally {
        await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    }
}

/** Checks every tenant's login roles; one tenant's failure never stops the others. */
export async function checkRoleDrift(targets: readonly RoleCheckTarget[], options: RoleCheckOptions = {}): Promise<RoleDriftReport> {
    const checkedAt = new Date().toISOString();
    const limit = pLimit(options.concurrency ?? 4);
    const roles = (await Promise.all(targets.map((target) => limit(() => checkTenant(target, options))))).flat();
    const counts = { ok: 0, drift: 0, unreachable: 0 };
    for (const check of roles) counts[check.status]++;
    return { checkedAt, counts, roles };
}

const LOGIN_WORDS: Record<Exclude<LoginResult, "ok" | "unreachable">, string> = {
    "password-changed": "password changed outside Pulumi (the declared password is refused)",
    "login-disabled": "cannot log in (NOLOGIN), though the tenant is active",
    missing: "the role does not exist",
};

/** One role's findings in words: "ok", or what differs, e.g. "statement_timeout 30s declared, set to 0". */
export function describeRoleCheck(check: RoleCheck): string {
    const parts: string[] = [];
    if (check.login === "unreachable") parts.push(`could not log in: ${check.reason ?? "unknown error"}`);
    else if (check.login !== "ok") parts.push(LOGIN_WORDS[check.login]);
    if (check.settings === null)
        parts.push(`settings not checked: ${check.login === "ok" && check.reason ? check.reason : "no role of the tenant could log in"}`);
    for (const { name, scope, declared, actual } of check.settings ?? []) {
        const now = actual === null ? "unset" : `set to ${displaySetting(name, actual)}`;
        if (scope === "database") parts.push(`${name} ${now} in database ${check.database} (not declared)`);
        else if (declared === null) parts.push(`${name} not declared, ${now}`);
        else parts.push(`${name} ${displaySetting(name, declared)} declared, ${now}`);
    }
    return parts.length ? parts.join("; ") : "ok";
}

/** Exit codes of a live check, for CI: 8 when any role drifted, else 9 when a role could not be checked, else 0. */
export const ROLE_DRIFT_EXIT = { drift: 8, unreachable: 9 } as const;

export function roleDriftExitCode(report: RoleDriftReport): number {
    if (report.counts.drift > 0) return ROLE_DRIFT_EXIT.drift;
    return report.counts.unreachable > 0 ? ROLE_DRIFT_EXIT.unreachable : 0;
}
