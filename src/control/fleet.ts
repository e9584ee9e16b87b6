/**
 * A fleet is many stacks (cells) of the same project, `<fleet>-cell-<NN>`, each holding a bounded
 * number of tenants (`tenantdb:cell.capacity`). New tenants go to a cell with room, under the
 * same stability rule as servers: a tenant's cell is the stack file it is written in, and nothing
 * moves it. Operations across cells run in parallel, bounded, one Node process per cell: the
 * SDK and a workspace are not safe for concurrent updates in one process.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import pLimit from "p-limit";
import { parseNewTenant } from "../config/sources/tenant-request";
import { chooseServer } from "../placement";
import { TenantdbClient } from "./client";
import type { CallOptions, ClientOptions, ProvisionResult } from "./types";
import type { ChangePreview, ProposedChange } from "../preview/types";
import { InvalidRequestError, asInvalidRequest } from "./errors";
import { withStackLease } from "./lease";
import { StackFileEdit } from "./stack-file";
import { SeedInput } from "../migrate/types";

/** Operations that run in every cell. */
export type CellCommand = "deploy" | "preview" | "status" | "migrate";

export interface CellResult {
    readonly cell: string;
    /** The `tenants` CLI's exit code for this cell (0: ok; see scripts/tenants.ts). */
    readonly exitCode: number;
    /** Its JSON result, or `{ error: { code, message } }`. */
    readonly output: unknown;
}

export interface FleetOptions extends ClientOptions {
    /** Cells worked on at once. Defaults to 2. */
    readonly concurrency?: number;
}

const CELL = /^Pulumi\.(.+-cell-\d+)\.yaml$/;
const REPO_ROOT = path.resolve(__dirname, "../..");

/** The fleet's cells: the stack files `Pulumi.<fleet>-cell-<NN>.yaml` in the project folder, in order. */
export function cellsOf(workDir: string, fleet: string): string[] {
    return readdirSync(workDir)
        .map((file) => CELL.exec(file)?.[1])
        .filter((cell): cell is string => cell !== undefined && cell.startsWith(`${fleet}-cell-`))
        .sort();
}

export class FleetClient {
    private readonly client: TenantdbClient;

    constructor(private readonly options: FleetOptions) {
        this.client = new TenantdbClient(options);
    }

    /**
     * Provisions a tenant in the fleet: in the cell that already has it (the same request twice
     * gives one tenant), else in the cell with the most room by fill ratio, then by name.
     * Placement is serialized by the fleet's own lease, so two calls cannot overfill a cell.
     */
    async provision(
        fleet: string,
        request: unknown,
        options: { seed?: SeedInput; signal?: AbortSignal } = {},
    ): Promise<ProvisionResult & { cell: string }> {
        const tenant = asInvalidRequest(() => parseNewTenant(request));
        const lease = {
            owner: this.options.actor,
            operation: `place ${tenant.id}`,
            signal: options.signal,
            waitMs: this.options.lease?.waitMs,
        };
        const { cell, created } = await withStackLease(this.options.workDir, `${fleet}-placement`, lease, async () => {
            const placed = this.placement(fleet, tenant.id);
            if (placed.home) return { cell: placed.cell, created: false };
            const added = await this.client.add(placed.cell, request, { signal: options.signal });
            return { cell: placed.cell, created: added.created };
        });
        const result = await this.client.provision(cell, request, options);
        return { ...result, created, cell };
    }

    /**
     * What a change would do (TenantdbClient.previewChange), in the cell it would happen in: the
     * cell that has the tenant, or for a new tenant the one provision would choose now. Reads only.
     */
    async previewChange(
        fleet: string,
        change: ProposedChange,
        options: CallOptions & { migrationsDir?: string } = {},
    ): Promise<ChangePreview> {
        const id = change.action === "provision" ? asInvalidRequest(() => parseNewTenant(change.tenant)).id : change.tenantId;
        const { cell, home } = this.placement(fleet, id);
        if (!home && change.action !== "provision") throw new InvalidRequestError("tenantId", `no cell of fleet ${fleet} has tenant ${id}`);
        return this.client.previewChange(cell, change, options);
    }

    /** The cell that has tenant `id` (home), else the one with the most room by fill ratio, then by name. */
    private placement(fleet: string, id: string): { cell: string; home: boolean } {
        const cells = cellsOf(this.options.workDir, fleet).map((name) => ({
            name,
            model: new StackFileEdit(this.stackFile(name)).model(),
        }));
        if (cells.length === 0)
            throw new InvalidRequestError("fleet", `fleet ${fleet} has no cells: create Pulumi.${fleet}-cell-01.yaml (README, Cells)`);
        const home = cells.find((c) => c.model.tenants.some((t) => t.id === id));
        if (home) return { cell: home.name, home: true };
        const live = (c: (typeof cells)[number]) => c.model.tenants.filter((t) => t.state !== "erased");
        const chosen = chooseServer(
            cells.flatMap((c) => live(c).map((t) => ({ id: t.id, plan: "standard" as const, server: c.name }))),
            cells.map((c) => ({ name: c.name, capacity: c.model.cell.capacity })),
        );
        if (!chosen)
            throw new InvalidRequestError(
                "fleet",
                `every cell of fleet ${fleet} is full; add a cell: Pulumi.${fleet}-cell-${String(cells.length + 1).padStart(2, "0")}.yaml`,
            );
        return { cell: chosen, home: false };
    }

    /**
     * Runs a command in every cell, `concurrency` at a time, each in its own Node process (the
     * `tenants` CLI with --json). One cell failing does not stop the others. `seedsFile`: the
     * first company and admin of new tenants, for deploy and migrate (README, Migrations).
     */
    async run(fleet: string, command: CellCommand, options: { seedsFile?: string } = {}): Promise<CellResult[]> {
        const limit = pLimit(this.options.concurrency ?? 2);
        const extra = options.seedsFile && (command === "deploy" || command === "migrate") ? ["--seeds", options.seedsFile] : [];
        return Promise.all(cellsOf(this.options.workDir, fleet).map((cell) => limit(() => this.runInCell(cell, [command, ...extra]))));
    }

    private runInCell(cell: string, command: string[]): Promise<CellResult> {
        const cli = [
            path.join(REPO_ROOT, "scripts/tenants.ts"),
            "--stack",
            cell,
            "--json",
            "--work-dir",
            this.options.workDir,
            "--actor",
            this.options.actor,
        ];
        const args = ["--import", "tsx", ...cli, ...command];
        const env = {
            ...process.env,
            ...this.options.env,
            ...(this.options.pulumiBinDir ? { TENANTDB_ENGINE_BIN: this.options.pulumiBinDir } : {}),
        };
        return new Promise((resolve, reject) => {
            const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
            let stdout = "";
            child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
            child.stderr.resume();
            child.on("error", reject);
            child.on("close", (code) => {
                let output: unknown;
                try {
                    output = JSON.parse(stdout);
                } catch {
                    output = { error: { code: "error", message: `cell ${cell}: no JSON result (exit ${code})` } };
                }
                resolve({ cell, exitCode: code ?? 1, output });
            });
        });
    }

    private stackFile(cell: string): string {
        return path.join(this.options.workDir, `Pulumi.${cell}.yaml`);
    }
}
