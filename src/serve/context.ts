/** What the routes work with: one per service process. */
import type { Pool } from "pg";
import type { BackupInventory } from "../backup";
import type { DeployedOutputsCache } from "./deployed-cache";
import type { JobStore } from "./jobs";
import type { ServeTarget } from "./target";
import type { CostReports } from "./tenant-cost";
import type { Scope } from "./tokens";
import type { Worker } from "./worker";

export interface ServiceContext {
    readonly pool: Pool;
    readonly store: JobStore;
    readonly worker: Worker;
    readonly target: ServeTarget;
    readonly deployed: DeployedOutputsCache;
    readonly costs: CostReports;
    readonly inventory?: BackupInventory;
}

/** Per route: the scope a token needs (none: public), and whether each call is audited. */
export interface RouteAccess {
    readonly scope?: Scope;
    readonly audited?: boolean;
}

declare module "fastify" {
    interface FastifyContextConfig {
        access?: RouteAccess;
    }
    interface FastifyRequest {
        /** The token's name, once authenticated. */
        caller?: string;
        /** The job this request made or found, for the audit log. */
        jobId?: string;
    }
}
