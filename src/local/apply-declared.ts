/**
 * Applies the PostgreSQL resources the Pulumi program declares (as an offline evaluation
 * recorded them) to a real PostgreSQL server, with the SQL of the @pulumi/postgresql provider.
 * A test and development harness (security tests, the `npm start` sandbox): the product
 * deploys through `pulumi up`.
 *
 * What it does: for one server (the resources whose provider is `server-<name>-postgresql`),
 * roles (in membership order) and role grants, then per database: the database, and connected
 * to it, its extensions, schemas, grants and default privileges. The server component's grants
 * on the maintenance databases (PUBLIC revoked on `postgres` and `template1`) are applied like any
 * database grant, connected to that database as the provider is; unlike the provider, the
 * harness reads a NULL ACL as PostgreSQL's default (PUBLIC may connect), so it repairs one. Each resource is read from the
 * catalog first (src/local/apply-resources.ts): created when missing, altered where it differs
 * from what is declared, left alone when it matches, so a second apply changes nothing (passwords are compared with the
 * stored SCRAM/md5 verifier when the admin is a superuser; otherwise they are always set). SQL
 * is the provider's (src/local/declared-sql.ts): grants and default privileges REVOKE ALL then
 * GRANT in one transaction, `assumeRole` is `ALTER ROLE ... SET ROLE`, and so on. A non-superuser
 * admin is temporarily made a member of the owners it needs, as the provider does.
 *
 * What it does not cover: no state and no deletes (a resource removed from the program stays,
 * as `retainOnDelete` would keep it anyway); no replacement (a database whose encoding, collation
 * or ctype differs is refused with an error, where `pulumi up` would replace it; the template a
 * database was copied from cannot be read back and is not compared);
 * no drift report beyond the summary's counts; only the arguments tenantdb uses (anything else is
 * refused in declared-resources.ts): roles without search_path, valid_until or password_wo,
 * grants on databases and schemas only, default privileges in a schema only, extensions without
 * version; no advisory locks (one apply at a time per server). The non-superuser path (temporary
 * memberships) is not exercised by the tests, and the provider's reverse-membership dance is not
 * reproduced: the tests and the sandbox apply as a superuser.
 */
import { redact } from "../shared/redact";
import { Client } from "pg";
import pLimit from "p-limit";
import type { OfflineEvaluation } from "../program/offline";
import {
    applyDatabase,
    applyDefaultPrivileges,
    applyExtension,
    applyGrant,
    applyGrantRole,
    applyRole,
    applySchema,
    Context,
    inMembershipOrder,
    Outcome,
} from "./apply-resources";
import { DECLARED_KINDS, DeclaredKind, DeclaredResources, declaredResources, declaredServers } from "./declared-resources";

/** Admin connection to the server (the provider's username and password). */
export interface AdminConnection {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly password: string;
    /** Maintenance database for server-wide statements. Defaults to `postgres`. */
    readonly database?: string;
}

export interface ApplyOptions {
    /** The server (its name in `tenantdb:servers`). Defaults to the only one with PostgreSQL resources. */
    readonly server?: string;
    /** Databases applied at once. Defaults to 1. */
    readonly parallel?: number;
}

export interface ApplyCounts {
    created: number;
    updated: number;
    unchanged: number;
}

/** One resource the apply created or altered. */
export interface AppliedChange {
    readonly kind: DeclaredKind;
    readonly outcome: "created" | "updated";
    /** The Pulumi resource name, e.g. `tenant-acme-app`. */
    readonly resourceName: string;
    /** What it is on the server, e.g. `role erp_acme_app`, `schema core in erp_acme`. */
    readonly object: string;
    /** The database it is in (extensions, schemas, grants, default privileges). */
    readonly database?: string;
}

export interface ApplySummary {
    readonly server: string;
    readonly counts: Record<DeclaredKind, ApplyCounts>;
    /** Resources created or updated; 0 when the server already matched the program. */
    readonly changed: number;
    /** The resources created or updated, in the order they were applied. */
    readonly changes: readonly AppliedChange[];
}

/** What a declared resource is on the server, in words: `role erp_acme_app`, `grant on schema core in erp_acme to erp_acme_app`. */
export function describeDeclared(kind: DeclaredKind, resource: DeclaredResources[DeclaredKind][number]): string {
    const r = resource as unknown as Record<string, string | undefined>;
    switch (kind) {
        case "role":
        case "database":
            return `${kind} ${r.name}`;
        case "grantRole":
            return `membership of ${r.role} in ${r.grantRole}`;
        case "extension":
        case "schema":
            return `${kind} ${r.name} in ${r.database}`;
        case "grant":
            return `grant on ${r.objectType}${r.schema ? ` ${r.schema}` : ""} in ${r.database} to ${r.role}`;
        case "defaultPrivileges":
            return `default privileges on ${r.objectType}s in ${r.database}.${r.schema} for ${r.role}`;
    }
}

/** A failed resource: names the server, the resource and the step; never holds a password. */
export class ApplyDeclaredError extends Error {
    constructor(
        readonly server: string,
        readonly resource: string,
        readonly step: string,
        cause: unknown,
        secrets: readonly string[],
    ) {
        const detail = redact(cause instanceof Error ? cause.message : String(cause), secrets);
        super(`server ${server}: ${resource}: ${step} failed: ${detail}`, {
            cause: cause instanceof Error ? sanitise(cause, detail) : undefined,
        });
        this.name = "ApplyDeclaredError";
    }
}

function sanitise(cause: Error, message: string): Error {
    const copy = new Error(message);
    copy.name = cause.name;
    Object.assign(copy, { code: (cause as { code?: string }).code });
    return copy;
}

async function connect(admin: AdminConnection, database: string): Promise<Client> {
    const client = new Client({
        host: admin.host,
        port: admin.port,
        user: admin.user,
        password: admin.password,
        database,
        application_name: "tenantdb-apply",
    });
    await client.connect();
    return client;
}

async function withClient<T>(admin: AdminConnection, database: string, use: (client: Client) => Promise<T>): Promise<T> {
    const client = await connect(admin, database);
    try {
        return await use(client);
    } finally {
        await client.end();
    }
}

function resolveServer(evaluation: OfflineEvaluation, server: string | undefined): string {
    const servers = declaredServers(evaluation);
    if (server !== undefined) {
        if (!servers.includes(server))
            throw new Error(
                `No PostgreSQL resources are declared on server ${JSON.stringify(server)}; servers with some: ${servers.join(", ") || "none"}.`,
            );
        return server;
    }
    if (servers.length !== 1)
        throw new Error(
            `Say which server to apply (options.server): the program declares PostgreSQL resources on ${servers.length === 0 ? "none" : servers.join(", ")}.`,
        );
    return servers[0];
}

/**
 * Applies what the program declares on one server to the PostgreSQL server `admin` reaches, and
 * returns how many resources of each kind were created, updated or already matched.
 */
export async function applyDeclaredResources(
    evaluation: OfflineEvaluation,
    admin: AdminConnection,
    options: ApplyOptions = {},
): Promise<ApplySummary> {
    const server = resolveServer(evaluation, options.server);
    const declared = declaredResources(evaluation, server);
    const counts = Object.fromEntries(DECLARED_KINDS.map((kind) => [kind, { created: 0, updated: 0, unchanged: 0 }])) as Record<
        DeclaredKind,
        ApplyCounts
    >;
    const secrets = [admin.password, ...declared.role.map((role) => role.password ?? "")];
    const changes: AppliedChange[] = [];

    const step = async <T extends { resourceName: string }>(
        kind: DeclaredKind,
        client: Client,
        context: Context,
        resource: T,
        apply: (c: Client, x: Context, r: T) => Promise<Outcome>,
    ) => {
        try {
            const outcome = await apply(client, context, resource);
            counts[kind][outcome]++;
            if (outcome !== "unchanged")
                changes.push({
                    kind,
                    outcome,
                    resourceName: resource.resourceName,
                    object: describeDeclared(kind, resource as unknown as DeclaredResources[DeclaredKind][number]),
                    ...("database" in resource && typeof resource.database === "string" ? { database: resource.database } : {}),
                });
        } catch (error) {
            throw new ApplyDeclaredError(
                server,
                `${kind} ${resource.resourceName}`,
                kind === "database" ? "create or alter database" : `apply ${kind}`,
                error,
                secrets,
            );
        }
    };

    const maintenance = admin.database ?? "postgres";
    const context = await withClient(admin, maintenance, async (client): Promise<Context> => {
        const me = (await client.query("SELECT current_user AS user, rolsuper FROM pg_roles WHERE rolname = current_user")).rows[0];
        const context = { server, user: me.user as string, superuser: me.rolsuper as boolean };
        for (const role of inMembershipOrder(declared.role)) await step("role", client, context, role, applyRole);
        for (const grant of declared.grantRole) await step("grantRole", client, context, grant, applyGrantRole);
        return context;
    });

    const databases = [
        ...new Set([
            ...declared.database.map((d) => d.name),
            ...[...declared.extension, ...declared.schema, ...declared.grant, ...declared.defaultPrivileges].map((r) => r.database),
        ]),
    ];
    const limit = pLimit(Math.max(1, options.parallel ?? 1));
    await Promise.all(
        databases.map((name) =>
            limit(async () => {
                const database = declared.database.find((d) => d.name === name);
                if (database) await withClient(admin, maintenance, (client) => step("database", client, context, database, applyDatabase));
                await withClient(admin, name, async (client) => {
                    for (const extension of declared.extension.filter((r) => r.database === name))
                        await step("extension", client, context, extension, applyExtension);
                    for (const schema of declared.schema.filter((r) => r.database === name))
                        await step("schema", client, context, schema, applySchema);
                    for (const grant of declared.grant.filter((r) => r.database === name))
                        await step("grant", client, context, grant, applyGrant);
                    for (const defaults of declared.defaultPrivileges.filter((r) => r.database === name))
                        await step("defaultPrivileges", client, context, defaults, applyDefaultPrivileges);
                });
            }),
        ),
    );

    const changed = DECLARED_KINDS.reduce((sum, kind) => sum + counts[kind].created + counts[kind].updated, 0);
    return { server, counts, changed, changes };
}
