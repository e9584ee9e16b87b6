/**
 * The cross-tenant check no option skips: a restore into tenant B refuses anything that names
 * a role of another tenant A, as owner, grantee or role setting. `--allow-privilege-drift`
 * tolerates grants the component does not declare; it never tolerates another tenant's.
 */
import { BackupManifest, DatabaseSnapshot, ObjectSnapshot } from "../manifest";
import { ROLE_SUFFIXES, TenantNames, tenantIdFromDatabase } from "../../naming";

/** Whether `role` is named like a tenant role (`erp_<id>_owner|app|readonly|migrator`). */
function isTenantRole(role: string): boolean {
    return ROLE_SUFFIXES.some((suffix) => role.endsWith(suffix) && tenantIdFromDatabase(role.slice(0, -suffix.length)) !== undefined);
}

/** Every role an object list and a database snapshot name. */
function rolesNamedBy(objects: readonly ObjectSnapshot[], database: DatabaseSnapshot): Set<string> {
    const grantees = (acl: readonly string[]) => acl.map((entry) => entry.slice(0, entry.lastIndexOf("=")));
    return new Set([
        ...objects.flatMap((object) => [object.owner, ...grantees(object.acl)]),
        database.owner,
        ...grantees(database.acl),
        ...database.roleSettings.map((setting) => setting.role),
    ]);
}

/** Tenant roles named by `objects`/`database` that are not `names`' own, sorted. */
export function foreignTenantRoles(names: TenantNames, objects: readonly ObjectSnapshot[], database: DatabaseSnapshot): string[] {
    const own = new Set([names.ownerRole, names.appRole, names.readonlyRole, names.migratorRole]);
    return [...rolesNamedBy(objects, database)].filter((role) => isTenantRole(role) && !own.has(role)).sort();
}

export function foreignRolesInManifest(names: TenantNames, manifest: BackupManifest): string[] {
    return foreignTenantRoles(names, manifest.objects, manifest.databaseSnapshot);
}
