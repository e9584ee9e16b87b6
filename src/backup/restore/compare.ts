/** A restored database against its manifest, as pure functions: what differs, worded for the operator. */
import { BackupManifest } from "../manifest";

/** Differences between a restored database and its manifest: data first, owners and privileges apart. */
export function compareWithManifest(
    manifest: BackupManifest,
    actual: {
        tables: Record<string, number>;
        schema: { schemaVersion: string; migrationsApplied: number };
        objects: BackupManifest["objects"];
        database: BackupManifest["databaseSnapshot"];
    },
): { data: string[]; privileges: string[] } {
    const data: string[] = [];
    const privileges: string[] = [];
    if (actual.schema.schemaVersion !== manifest.schemaVersion || actual.schema.migrationsApplied !== manifest.migrationsApplied) {
        data.push(
            `schema version ${actual.schema.schemaVersion} (${actual.schema.migrationsApplied} migrations), ` +
                `expected ${manifest.schemaVersion} (${manifest.migrationsApplied})`,
        );
    }
    for (const table of new Set([...Object.keys(manifest.tables), ...Object.keys(actual.tables)])) {
        const expected = manifest.tables[table];
        const found = actual.tables[table];
        if (expected === undefined) data.push(`table ${table} is not in the backup`);
        else if (found === undefined) data.push(`table ${table} is missing`);
        else if (expected !== found) data.push(`table ${table} has ${found} rows, expected ${expected}`);
    }
    const recordedObjects = new Map(manifest.objects.map((o) => [`${o.kind} ${o.name}`, o]));
    const actualObjects = new Map(actual.objects.map((o) => [`${o.kind} ${o.name}`, o]));
    for (const [name, expected] of recordedObjects) {
        const found = actualObjects.get(name);
        if (!found) {
            (privilegesOnly(expected.kind) ? privileges : data).push(`${name} is missing`);
            continue;
        }
        if (found.owner !== expected.owner) privileges.push(`${name} is owned by ${found.owner}, expected ${expected.owner}`);
        const diff = aclDiff(expected.acl, found.acl);
        if (diff) privileges.push(`${name} privileges ${diff}`);
    }
    for (const [name, found] of actualObjects) {
        if (!recordedObjects.has(name)) (privilegesOnly(found.kind) ? privileges : data).push(`${name} is not in the backup`);
    }
    const expected = manifest.databaseSnapshot;
    const found = actual.database;
    if (found.owner !== expected.owner) privileges.push(`database owner is ${found.owner}, expected ${expected.owner}`);
    const dbAcl = aclDiff(expected.acl, found.acl);
    if (dbAcl) privileges.push(`database privileges ${dbAcl}`);
    if (found.connectionLimit !== expected.connectionLimit)
        data.push(`connection limit is ${found.connectionLimit}, expected ${expected.connectionLimit}`);
    if (found.settings.join("\n") !== expected.settings.join("\n")) {
        data.push(`database settings are [${found.settings.join(", ")}], expected [${expected.settings.join(", ")}]`);
    }
    if (JSON.stringify(found.roleSettings) !== JSON.stringify(expected.roleSettings)) {
        data.push(
            `role settings in the database are ${JSON.stringify(found.roleSettings)}, expected ${JSON.stringify(expected.roleSettings)}`,
        );
    }
    for (const field of ["encoding", "collate", "ctype"] as const) {
        if (found[field] !== expected[field]) data.push(`database ${field} is ${found[field]}, expected ${expected[field]}`);
    }
    return { data, privileges };
}

function aclDiff(expected: readonly string[], found: readonly string[]): string | undefined {
    const lacking = expected.filter((entry) => !found.includes(entry));
    const extra = found.filter((entry) => !expected.includes(entry));
    if (lacking.length === 0 && extra.length === 0) return undefined;
    return [lacking.length ? `lack ${lacking.join(", ")}` : "", extra.length ? `add ${extra.join(", ")}` : ""].filter(Boolean).join("; ");
}

/** The first eight problems and how many more: an error message, not a report. */
export function summarize(problems: readonly string[]): string {
    const shown = problems.slice(0, 8).join("; ");
    return problems.length > 8 ? `${shown}; and ${problems.length - 8} more` : shown;
}

/** Entries that are only privileges (no data of their own): default privileges and column grants. */
function privilegesOnly(kind: string): boolean {
    return kind === "default privileges" || kind === "column";
}
