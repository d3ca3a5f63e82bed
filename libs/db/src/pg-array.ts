/**
 * A column of a batch as one PostgreSQL array literal (`{"a","b",NULL,3,t}`), for the multi-row
 * functions that take one array per column (`$1::text[]`, `$2::bigint[]`, `$3::jsonb[]`).
 *
 * node-postgres builds the same literal itself, but escapes every string element with two regex
 * replaces (and walks each value through its generic `prepareValue`): on the order-router's
 * write path that was ~15 % of its busy CPU at saturation (docs/performance.md, "Sixth pass").
 * Here a string is quoted as is unless it holds a quote or a backslash (a JSON payload does),
 * which then goes through JSON.stringify. Elements are what the repositories pass: strings,
 * integers (number or bigint), booleans and null; anything else is a programming error and throws.
 */
export function pgArray(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += element(values[i]);
  }
  return out + '}';
}

const ESCAPED = /["\\]/g;
const NEEDS_ESCAPE = /["\\]/;
// JSON.stringify quotes a string exactly as an array element needs (`"` and `\` escaped by a
// backslash), ~4x faster than a regex replace on a long JSON payload, except that it would also
// turn control characters and lone surrogates into escapes the array parser reads differently.
const JSON_UNSAFE = /[\u0000-\u001f\ud800-\udfff]/;

function element(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  switch (typeof v) {
    case 'string':
      if (!NEEDS_ESCAPE.test(v)) return `"${v}"`;
      return JSON_UNSAFE.test(v) ? `"${v.replace(ESCAPED, '\\$&')}"` : JSON.stringify(v);
    case 'bigint':
      return v.toString();
    case 'number':
      if (!Number.isSafeInteger(v)) throw new TypeError(`pgArray: ${v} is not a safe integer`);
      return String(v);
    case 'boolean':
      return v ? 't' : 'f';
    default:
      throw new TypeError(`pgArray: cannot encode a ${typeof v}`);
  }
}

/** Each column as its array literal. */
export const pgArrays = (columns: readonly (readonly unknown[])[]): string[] => columns.map(pgArray);
