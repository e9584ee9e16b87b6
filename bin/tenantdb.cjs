#!/usr/bin/env node
// The `tenantdb` command (package.json `bin`). It runs the TypeScript sources through tsx, a
// dependency of tenantdb, on whatever Node runs this file: through npm (`npx tenantdb`, `npm run`)
// that is the Node 22 that `npm ci` installed in node_modules/.bin.
require("tsx/cjs");
require("../scripts/tenantdb.ts")
    .main(process.argv.slice(2))
    .catch((error) => {
        console.error(`tenantdb: ${error instanceof Error ? error.message : String(error)}`);
        process.exitCode = 1;
    });
