import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { declareMaintenanceLockdown } from "./maintenance-databases";

/** How the program reaches an existing server: what tenantdb:servers holds for an `external` one. */
export interface ExternalServerArgs {
    readonly host: string;
    readonly port: number;
    readonly adminUser: string;
    readonly password: pulumi.Input<string>;
    readonly superuser: boolean;
    readonly sslmode: string;
}

/**
 * An existing PostgreSQL server that hosts tenant databases: its `postgresql.Provider` and what
 * the program declares on the server itself (its maintenance databases closed to PUBLIC).
 *
 * The provider is declared at the stack's root, not under this component: it was there before the
 * component existed, and a new parent is a new URN, for it and for the provider reference of every
 * tenant resource on the server (test/program/urns.test.ts). Nothing here is protected, like the
 * provider: an external server is not ours to delete, and everything here is retained on delete,
 * so a server leaving the config runs no SQL on it.
 */
export class ExternalServer extends pulumi.ComponentResource {
    public readonly provider: postgresql.Provider;

    constructor(name: string, args: ExternalServerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tenantdb:index:ExternalServer", name, {}, opts);
        this.provider = new postgresql.Provider(`${name}-postgresql`, {
            host: args.host,
            port: args.port,
            username: args.adminUser,
            password: pulumi.secret(args.password),
            database: "postgres",
            superuser: args.superuser,
            sslmode: args.sslmode,
            connectTimeout: 15,
            maxConnections: 4,
        });
        declareMaintenanceLockdown(name, { parent: this, provider: this.provider, protect: false });
        this.registerOutputs({});
    }
}
