/**
 * Object definitions as the server itself renders them, one digest per object. Row counts and
 * ACLs cannot see an edited function body or a changed default; these can. The texts come
 * from the server's own deparsers (pg_get_functiondef, pg_get_viewdef, pg_get_indexdef, ...),
 * which render a restored object exactly as its original on the same major version.
 */
import { createHash } from "node:crypto";
import { ClientBase } from "pg";
import { USER_SCHEMA, notExtensionMember } from "./catalog";

/**
 * One row per object: `<kind> <name>` and its definition text. Tables list their columns
 * (type, nullability, default, identity, generation) and constraints; indexes, triggers,
 * rules and policies are objects of their own, named after their table.
 */
const DEFINITIONS_SQL = `
SELECT kind || ' ' || name AS object, definition FROM (
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind,
           p.oid::regprocedure::text AS name,
           CASE WHEN p.prokind = 'a' THEN p.oid::regprocedure::text ELSE pg_get_functiondef(p.oid) END AS definition
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE ${USER_SCHEMA} AND ${notExtensionMember("pg_proc", "p.oid")}
    UNION ALL
    SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, c.oid::regclass::text, pg_get_viewdef(c.oid)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('v', 'm') AND ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
    UNION ALL
    SELECT 'table', c.oid::regclass::text,
           coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                                || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                                || CASE a.attidentity WHEN 'a' THEN ' IDENTITY ALWAYS' WHEN 'd' THEN ' IDENTITY BY DEFAULT' ELSE '' END
                                || CASE a.attgenerated WHEN 's' THEN ' GENERATED STORED' ELSE '' END, ', ' ORDER BY a.attnum)
                       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
           || ' | ' ||
           coalesce((SELECT string_agg(quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)
                       FROM pg_constraint k WHERE k.conrelid = c.oid), '')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'f') AND ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
    UNION ALL
    SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
    UNION ALL
    SELECT 'trigger', t.tgrelid::regclass::text || '.' || quote_ident(t.tgname), pg_get_triggerdef(t.oid)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE NOT t.tgisinternal AND ${USER_SCHEMA}
    UNION ALL
    SELECT 'rule', r.ev_class::regclass::text || '.' || quote_ident(r.rulename), pg_get_ruledef(r.oid)
      FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE r.rulename <> '_RETURN' AND ${USER_SCHEMA}
    UNION ALL
    SELECT 'policy', pol.polrelid::regclass::text || '.' || quote_ident(pol.polname),
           pol.polcmd::text || ' ' || pol.polpermissive::text
           || ' TO ' || array_to_string(ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END FROM unnest(pol.polroles) r ORDER BY 1), ',')
           || coalesce(' USING ' || pg_get_expr(pol.polqual, pol.polrelid), '')
           || coalesce(' WITH CHECK ' || pg_get_expr(pol.polwithcheck, pol.polrelid), '')
      FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${USER_SCHEMA}
    UNION ALL
    SELECT 'sequence', s.seqrelid::regclass::text,
           format_type(s.seqtypid, NULL) || ' ' || s.seqstart || ' ' || s.seqincrement || ' ' || s.seqmin || ' ' || s.seqmax || ' '
           || s.seqcache || ' ' || s.seqcycle::text
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${USER_SCHEMA} AND ${notExtensionMember("pg_class", "c.oid")}
    UNION ALL
    SELECT CASE t.typtype WHEN 'e' THEN 'enum' ELSE 'domain' END, t.oid::regtype::text,
           CASE t.typtype
               WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
               ELSE format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                    || coalesce(' DEFAULT ' || t.typdefault, '')
                    || coalesce((SELECT ' ' || string_agg(quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)
                                   FROM pg_constraint k WHERE k.contypid = t.oid), '')
           END
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typtype IN ('e', 'd') AND ${USER_SCHEMA} AND ${notExtensionMember("pg_type", "t.oid")}
) definitions`;

/**
 * `<kind> <name>` -> sha256 hex of its definition, sorted by key. The reader runs with
 * search_path set to pg_catalog (as every tool session does), so names render schema-qualified.
 */
export async function readDefinitions(client: ClientBase): Promise<Record<string, string>> {
    const { rows } = await client.query<{ object: string; definition: string | null }>(DEFINITIONS_SQL);
    const digests: Record<string, string> = {};
    for (const row of rows.sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0))) {
        digests[row.object] = createHash("sha256")
            .update(row.definition ?? "")
            .digest("hex");
    }
    return digests;
}

/**
 * Objects whose definition differs, is missing, or is new, worded for the operator (sorted).
 * With `namesOnly` (another major version, whose deparsers may render differently) only presence counts.
 */
export function definitionDifferences(recorded: Record<string, string>, found: Record<string, string>, namesOnly = false): string[] {
    const problems: string[] = [];
    for (const name of [...new Set([...Object.keys(recorded), ...Object.keys(found)])].sort()) {
        if (!(name in found)) problems.push(`${name} is missing`);
        else if (!(name in recorded)) problems.push(`${name} is not in the backup`);
        else if (!namesOnly && recorded[name] !== found[name]) problems.push(`${name} has a definition other than the one backed up`);
    }
    return problems;
}
