/**
 * YAML parsing whose errors never quote the file. The `yaml` library's messages show the
 * offending line with a caret, and in a stack file, targets file or inventory that line can
 * hold a password. Every problem is reported (not only the first) as line, column and the
 * parser's own sentence, which names no value.
 */
import { LineCounter, parseDocument } from "yaml";

export class YamlSyntaxError extends Error {
    override readonly name = "YamlSyntaxError";
}

/** Parses `text`; on any syntax error throws YamlSyntaxError `<what> is not valid YAML: line L, column C: ...`. */
export function parseYamlQuietly(text: string, what: string): unknown {
    const lines = new LineCounter();
    const document = parseDocument(text, { prettyErrors: false, lineCounter: lines });
    if (document.errors.length > 0) {
        const problems = document.errors.map((error) => {
            const { line, col } = lines.linePos(error.pos[0]);
            return `line ${line}, column ${col}: ${error.message}`;
        });
        throw new YamlSyntaxError(`${what} is not valid YAML: ${problems.join("; ")}`);
    }
    return document.toJS();
}
