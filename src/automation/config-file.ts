/**
 * Adds a tenant to a stack config file (`Pulumi.<stack>.yaml`) the way a careful engineer
 * would by hand: comments and layout are kept, and the file is written only when the whole
 * config validates (src/config/add-tenant.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseDocument, YAMLSeq } from "yaml";
import { addTenant } from "../config/add-tenant";
import { StackModel } from "../config/model";
import { readStackFile } from "../config/sources/stack-file";
import { NewTenant } from "../config/sources/tenant-request";

/**
 * Appends `tenant` to `tenantdb:tenants` in `file`, recording its server. Throws ConfigError
 * (and leaves the file untouched) when the result would not validate. External servers'
 * passwords live in the Pulumi secrets store, not in the file, so they are not checked here.
 */
export function addTenantToConfigFile(file: string, tenant: NewTenant): { server: string; model: StackModel } {
    const document = parseDocument(readFileSync(file, "utf8"));
    const { source } = readStackFile(file);
    // The file holds no secrets: every declared server counts as having its password.
    const passwordsElsewhere = { ...source, serverPasswordNames: Object.keys((source.raw.servers ?? {}) as object) };
    const { entry, tenants, server, model } = addTenant(passwordsElsewhere, tenant);

    const list = document.getIn(["config", "tenantdb:tenants"]);
    if (list instanceof YAMLSeq) list.add(document.createNode(entry));
    else document.setIn(["config", "tenantdb:tenants"], document.createNode(tenants));
    writeFileSync(file, document.toString());
    return { server, model };
}
