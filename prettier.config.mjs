// Prettier: 4-space indents and double quotes, as the code was written; 140 columns, because
// resource declarations and SQL read better on one line than folded at 80.
export default {
    printWidth: 140,
    tabWidth: 4,
    trailingComma: "all",
    overrides: [{ files: ["*.json", "*.yaml", "*.yml", "*.md"], options: { tabWidth: 2 } }],
};
