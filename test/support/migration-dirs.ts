/** Throwaway migration folders: the project's migrations plus extra files, for fault tests. */
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DEFAULT_MIGRATIONS_DIR } from "../../src/migrate/catalog";

const made: string[] = [];

/** A folder with the project's migrations and `extra` files (name -> content) added or replaced. */
export function migrationsWith(extra: Record<string, string>): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tenantdb-migrations-"));
    made.push(dir);
    for (const file of readdirSync(DEFAULT_MIGRATIONS_DIR)) {
        if (file.endsWith(".sql") || (file.endsWith(".ts") && file !== "index.ts"))
            copyFileSync(path.join(DEFAULT_MIGRATIONS_DIR, file), path.join(dir, file));
    }
    for (const [name, content] of Object.entries(extra)) writeFileSync(path.join(dir, name), content);
    return dir;
}

export function removeMigrationDirs(): void {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
