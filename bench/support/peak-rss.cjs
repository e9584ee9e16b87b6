// Preloaded into the Pulumi program's Node process (NODE_OPTIONS=--require) by bench:engine:
// at exit, appends that process's peak RSS in MiB to $TENANTDB_PEAK_RSS_FILE.
const { appendFileSync } = require("node:fs");
const file = process.env.TENANTDB_PEAK_RSS_FILE;
if (file) process.on("exit", () => appendFileSync(file, `${process.resourceUsage().maxRSS / 1024}\n`));
