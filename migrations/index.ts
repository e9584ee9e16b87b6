/**
 * Registry of TypeScript migrations, imported statically (the catalog reads SQL files from
 * this folder and looks TypeScript ones up here by file name).
 */
import type { CodeMigration } from "../src/migrate/types";
import { firstCompany } from "./0003_first_company";
import { credentialsWithheld } from "./0004_credentials_withheld";

export const codeMigrations: Readonly<Record<string, CodeMigration>> = {
    "0003_first_company": firstCompany,
    "0004_credentials_withheld": credentialsWithheld,
};
