/**
 * The Automation API layer: what CI and the self-service portal call. Each operation works on
 * a real Pulumi stack through `@pulumi/pulumi/automation` and needs the Pulumi CLI on PATH and
 * a logged-in backend; nothing here is mocked. Offline equivalents (the sandbox, the cost
 * preview) use src/program/offline.ts instead.
 */
import * as automation from "@pulumi/pulumi/automation";
import { FleetOptions, FleetReport, runFleet } from "../migrate/fleet";
import { targetsFromStackOutputs } from "../migrate/targets";
import type { DeployedOutputs } from "../program/outputs";
import { SeedInput } from "../migrate/types";
import { tenantIdFromLogicalName } from "../naming";
import { dedicatedServerName } from "../placement";
import { pulumiCliAvailable } from "../shared/pulumi-cli";
import { addTenant } from "../config/add-tenant";
import { sourceFromAutomationConfig } from "../config/sources/automation";
import { parseNewTenant } from "../config/sources/tenant-request";

export interface StackRef {
    readonly stackName: string;
    /** The project folder (with Pulumi.yaml). */
    readonly workDir: string;
}

async function selectStack({ stackName, workDir }: StackRef): Promise<automation.Stack> {
    if (!pulumiCliAvailable()) throw new Error("the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) to deploy; the offline sandbox (npm start) needs no CLI");
    return automation.LocalWorkspace.selectStack({ stackName, workDir });
}

/**
 * Writes `tenantdb:tenants` as structured config (a YAML list in Pulumi.<stack>.yaml, as a
 * person would write it), not as a JSON string, so config-file edits keep working after it.
 */
async function setTenants(stack: automation.Stack, tenants: unknown[]): Promise<void> {
    await stack.setAllConfigJson(JSON.stringify({ "tenantdb:tenants": { value: JSON.stringify(tenants), objectValue: tenants, secret: false } }));
}

async function stackOutputs(stack: automation.Stack): Promise<DeployedOutputs> {
    const outputs = await stack.outputs();
    return { tenants: outputs.tenants?.value ?? {}, tenantSecrets: outputs.tenantSecrets?.value ?? {}, servers: outputs.servers?.value ?? {} };
}

/** Migration targets of a deployed stack, with each server's connection budget. */
export async function deployedTargets(stack: automation.Stack) {
    const outputs = await stackOutputs(stack);
    const maxConnections = Object.fromEntries(Object.entries(outputs.servers ?? {}).map(([name, server]) => [name, server.maxConnections]));
    return targetsFromStackOutputs(outputs, { maxConnections });
}

/**
 * `pulumi up`, then the migrations on every tenant database: the post-deploy step of CI.
 * Output lines of the engine go to `onOutput` (Pulumi masks secrets in them).
 */
export async function deployAndMigrate(ref: StackRef, migrate: Omit<FleetOptions, "mode"> = {}, onOutput?: (line: string) => void): Promise<{ summary: automation.UpdateSummary; migrations: FleetReport }> {
    const stack = await selectStack(ref);
    const result = await stack.up({ onOutput });
    const migrations = await runFleet(await deployedTargets(stack), { ...migrate, mode: "up" });
    return { summary: result.summary, migrations };
}

export interface ProvisionRequest {
    readonly tenantId: string;
    readonly plan?: "standard" | "enterprise";
    readonly connectionLimit?: number;
    /** First company and admin user; the admin password is hashed before it reaches the database. */
    readonly seed: SeedInput;
}

/**
 * The portal's "new tenant": records the tenant (and its server) in the stack's config,
 * deploys, then migrates and seeds that tenant only. Config is validated before anything runs.
 */
export async function provisionTenant(ref: StackRef, request: ProvisionRequest, onOutput?: (line: string) => void): Promise<FleetReport> {
    const stack = await selectStack(ref);
    const tenant = parseNewTenant({ id: request.tenantId, plan: request.plan, connectionLimit: request.connectionLimit });
    const source = sourceFromAutomationConfig(await stack.getAllConfig(), `stack ${ref.stackName}`);
    const { tenants } = addTenant(source, tenant);

    await setTenants(stack, tenants);
    await stack.up({ onOutput });
    return runFleet(await deployedTargets(stack), { mode: "up", only: [request.tenantId], seed: { [request.tenantId]: request.seed } });
}

/**
 * Offboarding: the tenant leaves the stack but nothing is dropped. Its database, bucket and key
 * are protected and retained on delete; this lifts the protection of that tenant's resources
 * only (state edit through export/import), removes the tenant from config and deploys, so
 * Pulumi forgets the resources while the database and backups stay where they are. Take a
 * final backup first (npm run backup -- <id>); dropping the archived database later is
 * a deliberate manual step.
 */
export async function offboardTenant(ref: StackRef, tenantId: string, onOutput?: (line: string) => void): Promise<void> {
    const stack = await selectStack(ref);
    const source = sourceFromAutomationConfig(await stack.getAllConfig(), `stack ${ref.stackName}`);
    const tenants = (source.raw.tenants ?? []) as { id: string; plan?: string }[];
    const tenant = tenants.find((t) => t.id === tenantId);
    if (!tenant) throw new Error(`tenant ${tenantId} is not in stack ${ref.stackName}'s tenantdb:tenants`);
    if (tenant.plan === "enterprise") {
        // Its dedicated RDS server is protected too and would leave with it; refuse before changing anything.
        throw new Error(`tenant ${tenantId} is an enterprise tenant with a dedicated server (${dedicatedServerName(tenantId)}); offboard it by hand: final backup, then pulumi state unprotect its server and tenant resources, then remove it from config`);
    }
    const state = await stack.exportStack();
    for (const resource of (state.deployment.resources ?? []) as { urn: string; protect?: boolean }[]) {
        if (tenantIdFromLogicalName(resource.urn.split("::").pop()!) === tenantId) resource.protect = false;
    }
    await stack.importStack(state);
    await setTenants(stack, tenants.filter((t) => t.id !== tenantId));
    await stack.up({ onOutput });
}
