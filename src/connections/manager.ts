/**
 * Connections to many tenant databases from one process: the seed's TenantDatabaseManager,
 * made safe. One `pg.Pool` per tenant, created on first use; a bound on the connections all
 * pools together may open (idle pools are closed to make room, least recently used first);
 * a clean shutdown. Used by the migration runner and exported for the ERP application.
 */
import { ClientBase, Pool, PoolClient } from "pg";

/** Where and how to reach one tenant's database. */
export interface TenantConnection {
    readonly host: string;
    readonly port: number;
    readonly database: string;
    readonly user: string;
    readonly password: string;
    readonly ssl?: boolean | object;
}

export interface TenantConnectionManagerOptions {
    /** Connection details of a tenant; called once per pool creation. */
    readonly resolve: (tenantId: string) => TenantConnection | Promise<TenantConnection>;
    /** Most connections all pools together may hold. Defaults to 100. */
    readonly maxTotalConnections?: number;
    /** Most connections one tenant's pool may hold. Defaults to 5. */
    readonly poolSize?: number;
    /** Idle connections close after this long. Defaults to 30 000 ms. */
    readonly idleTimeoutMs?: number;
    /** Connecting gives up after this long. Defaults to 10 000 ms. */
    readonly connectionTimeoutMs?: number;
    /** How long a caller waits for room under the bound before failing. Defaults to 30 000 ms. */
    readonly acquireTimeoutMs?: number;
    /** Shows in pg_stat_activity. Defaults to "tenantdb". */
    readonly applicationName?: string;
    /** Runs once on every new physical connection (e.g. `SET ROLE`), before first use. */
    readonly onConnect?: (client: ClientBase, tenantId: string) => Promise<void>;
    /** Errors of idle connections (e.g. server restart); they are otherwise dropped. */
    readonly onIdleError?: (tenantId: string, error: Error) => void;
}

interface TenantPool {
    readonly tenantId: string;
    readonly pool: Pool;
    readonly size: number;
    /** Clients checked out through withClient, which eviction must never interrupt. */
    active: number;
    /** Order of last use (a counter, not a clock: two uses in the same millisecond must still be ordered). */
    lastUsed: number;
}

export class ConnectionBudgetError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConnectionBudgetError";
    }
}

export class TenantConnectionManager {
    private readonly pools = new Map<string, TenantPool>();
    private readonly creating = new Map<string, Promise<TenantPool>>();
    private readonly prepared = new WeakSet<ClientBase>();
    private readonly waiters = new Set<() => void>();
    private reserved = 0;
    private uses = 0;
    private closed = false;
    private readonly maxTotal: number;
    private readonly poolSize: number;

    constructor(private readonly options: TenantConnectionManagerOptions) {
        this.maxTotal = options.maxTotalConnections ?? 100;
        this.poolSize = Math.min(options.poolSize ?? 5, this.maxTotal);
        if (!(this.maxTotal >= 1) || !(this.poolSize >= 1))
            throw new Error("TenantConnectionManager: maxTotalConnections and poolSize must be at least 1");
    }

    /** Runs `work` with a connection to the tenant's database. A client whose work threw is discarded. */
    async withClient<T>(tenantId: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
        const entry = await this.poolOf(tenantId);
        entry.active++;
        entry.lastUsed = ++this.uses;
        let client: PoolClient | undefined;
        try {
            client = await entry.pool.connect();
            if (this.options.onConnect && !this.prepared.has(client)) {
                await this.options.onConnect(client, tenantId);
                this.prepared.add(client);
            }
            const result = await work(client);
            client.release();
            return result;
        } catch (error) {
            // A failed transaction or a broken connection must not reach the next caller.
            client?.release(true);
            throw error;
        } finally {
            entry.active--;
            entry.lastUsed = ++this.uses;
            this.wake();
        }
    }

    /** One query on the tenant's database. */
    query<R extends object = Record<string, unknown>>(tenantId: string, text: string, values?: unknown[]) {
        return this.withClient(tenantId, (client) => client.query<R>(text, values));
    }

    /** Closes one tenant's pool (e.g. the tenant was migrated or deleted). */
    async release(tenantId: string): Promise<void> {
        const entry = this.pools.get(tenantId);
        if (entry) await this.dispose(entry);
    }

    /** Closes every pool; later calls fail. Waits for checked-out clients to come back. */
    async close(): Promise<void> {
        this.closed = true;
        await Promise.allSettled([...this.creating.values()]);
        await Promise.all([...this.pools.values()].map((entry) => this.dispose(entry)));
        this.wake();
    }

    /** Pools open and connections reserved by them (the sum of their sizes). */
    stats(): { pools: number; reservedConnections: number; openConnections: number } {
        let open = 0;
        for (const entry of this.pools.values()) open += entry.pool.totalCount;
        return { pools: this.pools.size, reservedConnections: this.reserved, openConnections: open };
    }

    private async poolOf(tenantId: string): Promise<TenantPool> {
        if (this.closed) throw new Error(`connection manager is closed; no connection to tenant ${tenantId}`);
        const existing = this.pools.get(tenantId);
        if (existing) return existing;
        // Concurrent first calls for one tenant share one creation (the seed's double-checked lock).
        let creation = this.creating.get(tenantId);
        if (!creation) {
            creation = this.create(tenantId).finally(() => this.creating.delete(tenantId));
            this.creating.set(tenantId, creation);
        }
        return creation;
    }

    private async create(tenantId: string): Promise<TenantPool> {
        const connection = await this.options.resolve(tenantId);
        await this.makeRoom(tenantId, this.poolSize);
        if (this.closed) {
            this.reserved -= this.poolSize;
            throw new Error(`connection manager is closed; no connection to tenant ${tenantId}`);
        }
        const pool = new Pool({
            host: connection.host,
            port: connection.port,
            database: connection.database,
            user: connection.user,
            password: connection.password,
            ssl: connection.ssl as never,
            max: this.poolSize,
            idleTimeoutMillis: this.options.idleTimeoutMs ?? 30_000,
            connectionTimeoutMillis: this.options.connectionTimeoutMs ?? 10_000,
            application_name: this.options.applicationName ?? "tenantdb",
        });
        pool.on("error", (error) => this.options.onIdleError?.(tenantId, error));
        const entry: TenantPool = { tenantId, pool, size: this.poolSize, active: 0, lastUsed: ++this.uses };
        this.pools.set(tenantId, entry);
        return entry;
    }

    /** Closes idle pools, least recently used first, until `size` more connections fit the bound. */
    private async makeRoom(tenantId: string, size: number): Promise<void> {
        const deadline = Date.now() + (this.options.acquireTimeoutMs ?? 30_000);
        // `reserved` counts pools being created too, so concurrent creations cannot overshoot.
        while (this.reserved + size > this.maxTotal) {
            const idle = [...this.pools.values()]
                .filter((entry) => entry.active === 0 && entry.pool.waitingCount === 0)
                .sort((a, b) => a.lastUsed - b.lastUsed)[0];
            if (idle) {
                await this.dispose(idle);
                continue;
            }
            const left = deadline - Date.now();
            if (left <= 0 || this.closed) {
                throw new ConnectionBudgetError(
                    `no room for a pool of tenant ${tenantId}: all ${this.pools.size} tenant pools are busy and hold the whole budget of ${this.maxTotal} connections; ` +
                        "raise maxTotalConnections or lower the concurrency of callers",
                );
            }
            await new Promise<void>((resolve) => {
                const timer = setTimeout(done, left);
                function done() {
                    clearTimeout(timer);
                    resolve();
                }
                this.waiters.add(done);
            });
        }
        this.reserved += size;
    }

    private async dispose(entry: TenantPool): Promise<void> {
        if (this.pools.get(entry.tenantId) !== entry) return;
        this.pools.delete(entry.tenantId);
        try {
            await entry.pool.end();
        } finally {
            this.reserved -= entry.size;
            this.wake();
        }
    }

    private wake(): void {
        const waiters = [...this.waiters];
        this.waiters.clear();
        for (const waiter of waiters) waiter();
    }
}
