import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';

// Every /v1 answer an integration suite receives, checked against the OpenAPI document the
// gateway that answered serves (GET /docs/openapi.json): its status must be one the operation
// documents, and its JSON body must validate against that answer's schema. Enabled for the
// integration project by scripts/jest/openapi-responses.ts (OPENAPI_CHECK=0 turns it off); off
// everywhere else (load runs, chaos, the demo use the same client). A request no operation
// matches (an unknown path, a wrong method: 404/405 by the router) is not checked.

const DOCUMENT_PATH = '/docs/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

interface Operation {
  method: string;
  segments: string[];
  template: string;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
}

interface Checker {
  operations: Operation[];
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

let enabled = false;
let checked = 0;
const mismatches: string[] = [];
const checkers = new Map<string, Promise<Checker | null>>();

/** Turns the check on (the integration project's setup does). */
export function enableOpenApiCheck(on = true): void {
  enabled = on;
}

export function openApiCheckEnabled(): boolean {
  return enabled;
}

/** What did not match the document so far, one line each; and how many answers were checked. */
export function openApiMismatches(): { checked: number; mismatches: string[] } {
  return { checked, mismatches: [...mismatches] };
}

async function load(baseUrl: string): Promise<Checker | null> {
  const res = await fetch(`${baseUrl}${DOCUMENT_PATH}`);
  if (!res.ok) return null;
  const doc = (await res.json()) as {
    openapi: string;
    paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation['responses']>>>;
    components?: object;
  };
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!template.startsWith('/v1/')) continue;
    for (const method of METHODS) {
      const op = item[method] as { responses?: Operation['responses'] } | undefined;
      if (op)
        operations.push({
          method: method.toUpperCase(),
          segments: template.split('/'),
          template,
          responses: op.responses ?? {},
        });
    }
  }
  // OpenAPI 3.1 schemas are JSON Schema 2020-12; OpenAPI's own keywords (example, ...) are let be.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'openapi-document', components: doc.components ?? {} });
  return { operations, ajv, compiled: new Map() };
}

function checker(baseUrl: string): Promise<Checker | null> {
  let c = checkers.get(baseUrl);
  if (!c) {
    c = load(baseUrl).catch(() => null);
    checkers.set(baseUrl, c);
    // A gateway that is down now may serve it later: try again next time.
    void c.then((v) => v === null && checkers.delete(baseUrl));
  }
  return c;
}

function operationFor(ops: Operation[], method: string, path: string): Operation | undefined {
  const segments = path.split('/');
  return ops.find(
    (op) =>
      op.method === method &&
      op.segments.length === segments.length &&
      op.segments.every((s, i) => (s.startsWith('{') ? segments[i] !== '' : s === segments[i])),
  );
}

/**
 * Checks one answer of `baseUrl` when the check is on: `pathWithQuery` as requested, `body` as
 * parsed JSON (undefined when there was none). A mismatch is recorded, not thrown, so a suite's
 * own assertions run too; the suite fails at its end (scripts/jest/openapi-responses.ts).
 */
export async function checkResponse(
  baseUrl: string,
  method: string,
  pathWithQuery: string,
  status: number,
  body: unknown,
): Promise<void> {
  if (!enabled) return;
  const path = pathWithQuery.split('?')[0];
  if (!path.startsWith('/v1/')) return;
  const c = await checker(baseUrl);
  if (!c) return;
  const op = operationFor(c.operations, method.toUpperCase(), path);
  if (!op) return;
  checked++;
  const where = `${method.toUpperCase()} ${pathWithQuery.slice(0, 200)} (${op.template}) -> ${status}`;
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => op.responses[k]);
  if (!key) {
    mismatches.push(`${where}: status not documented (documented: ${Object.keys(op.responses).join(', ')})`);
    return;
  }
  const schema = op.responses[key].content?.['application/json']?.schema;
  if (!schema) {
    if (body !== undefined && status !== 204)
      mismatches.push(`${where}: a body where the document has none: ${JSON.stringify(body).slice(0, 300)}`);
    return;
  }
  const id = `${op.method} ${op.template} ${key}`;
  let validate = c.compiled.get(id);
  if (!validate) {
    // '#/components/...' of the document, resolved against the copy added at load.
    const text = JSON.stringify(schema).replace(/"#\/components\//g, '"openapi-document#/components/');
    validate = c.ajv.compile(JSON.parse(text) as object);
    c.compiled.set(id, validate);
  }
  if (!validate(body))
    mismatches.push(
      `${where}: ${c.ajv.errorsText(validate.errors, { dataVar: 'body' })}; body ${JSON.stringify(body).slice(0, 300)}`,
    );
}
