/**
 * Default data from the tenant's provisioning input: the first company, its default chart
 * of accounts and its admin user. A TypeScript migration because the admin password is
 * hashed here (scrypt) and only the hash reaches the database. Idempotent: rows that exist
 * are kept, so running the seed again changes nothing, not even the password hash.
 */
import { z } from "zod";
import type { ClientBase } from "pg";
import { hashPassword } from "../src/migrate/password";
import type { CodeMigration, SeedInput } from "../src/migrate/types";

export const FIRST_COMPANY_CODE = "MAIN";

const seedSchema = z.object({
    companyName: z.string().trim().min(1).max(200),
    adminEmail: z.email(),
    adminPassword: z.string().min(12, "must be at least 12 characters"),
    baseCurrency: z
        .string()
        .regex(/^[A-Z]{3}$/, "must be an ISO 4217 code like USD")
        .optional(),
});

/** [code, name, type, parent code]: parents first. */
export const DEFAULT_CHART: ReadonlyArray<readonly [string, string, string, string | null]> = [
    ["1000", "Assets", "asset", null],
    ["1100", "Cash", "asset", "1000"],
    ["1200", "Bank", "asset", "1000"],
    ["1300", "Accounts Receivable", "asset", "1000"],
    ["1400", "Inventory", "asset", "1000"],
    ["2000", "Liabilities", "liability", null],
    ["2100", "Accounts Payable", "liability", "2000"],
    ["2200", "Taxes Payable", "liability", "2000"],
    ["3000", "Equity", "equity", null],
    ["3100", "Share Capital", "equity", "3000"],
    ["3200", "Retained Earnings", "equity", "3000"],
    ["4000", "Income", "income", null],
    ["4100", "Sales", "income", "4000"],
    ["5000", "Expenses", "expense", null],
    ["5100", "Cost of Goods Sold", "expense", "5000"],
    ["5200", "Salaries", "expense", "5000"],
    ["5300", "Rent", "expense", "5000"],
];

/** Validates provisioning input; the message names fields, never their values. */
export function validateSeed(tenantId: string, input: unknown): SeedInput {
    const parsed = seedSchema.safeParse(input);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "input"} ${issue.message}`).join("; ");
        throw new Error(`provisioning input of tenant ${tenantId} is invalid: ${problems}`);
    }
    return parsed.data;
}

/** Inserts the first company, its chart of accounts and its admin user, keeping existing rows. */
export async function seedFirstCompany(client: ClientBase, tenantId: string, input: unknown): Promise<void> {
    const seed = validateSeed(tenantId, input);
    const company = await client.query<{ id: string }>(
        `INSERT INTO core.companies (code, name, base_currency) VALUES ($1, $2, $3)
         ON CONFLICT (code) DO NOTHING RETURNING id`,
        [FIRST_COMPANY_CODE, seed.companyName, seed.baseCurrency ?? "USD"],
    );
    const companyId =
        company.rows[0]?.id ??
        (await client.query<{ id: string }>("SELECT id FROM core.companies WHERE code = $1", [FIRST_COMPANY_CODE])).rows[0].id;

    for (const [code, name, type, parent] of DEFAULT_CHART) {
        await client.query(
            `INSERT INTO finance.accounts (company_id, code, name, type, parent_id, is_postable)
             SELECT $1, $2, $3, $4, (SELECT id FROM finance.accounts WHERE company_id = $1 AND code = $5), $6
             ON CONFLICT (company_id, code) DO NOTHING`,
            [companyId, code, name, type, parent, parent !== null],
        );
    }

    const existing = await client.query("SELECT 1 FROM core.users WHERE lower(email) = lower($1)", [seed.adminEmail]);
    if (existing.rowCount === 0) {
        // Hash only when inserting: a re-run must not replace a password the admin has changed.
        const passwordHash = await hashPassword(seed.adminPassword);
        await client.query(
            `INSERT INTO core.users (company_id, email, display_name, password_hash, role)
             VALUES ($1, $2, 'Administrator', $3, 'admin')`,
            [companyId, seed.adminEmail, passwordHash],
        );
    }
}

export const firstCompany: CodeMigration = {
    lockTimeout: "5s",
    statementTimeout: "1min",
    async up({ client, tenantId, seed }) {
        if (!seed) {
            throw new Error(
                `tenant ${tenantId} has no provisioning input (companyName, adminEmail, adminPassword) for its first company; ` +
                    "pass it with the targets file's `seed` block or runFleet's `seed` option",
            );
        }
        await seedFirstCompany(client, tenantId, seed);
    },
    // No down: removing a tenant's company would delete its business data.
};
