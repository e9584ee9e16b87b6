// ESLint: typescript-eslint's recommended rules, plus the type-aware rules that catch what bites a
// tool like this one (a promise nobody awaits means a migration or a restore step nobody waits
// for). Formatting is Prettier's job (prettier.config.mjs), so eslint-config-prettier turns off
// the rules that would fight it.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/", "tools/", ".tenantdb/", "test/program/support/*.js", "bench/support/*.cjs", "bin/*.cjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        rules: {
            "@typescript-eslint/no-floating-promises": "error",
            "@typescript-eslint/no-misused-promises": "error",
            "@typescript-eslint/await-thenable": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
        },
    },
    {
        // Resource inputs as a provider receives them are untyped; tests and the mocks read them as such.
        files: ["test/**/*.ts", "src/program/mocks.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
    { files: ["**/*.mjs"], ...tseslint.configs.disableTypeChecked },
    prettier,
);
