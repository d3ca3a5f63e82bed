// The gateway's routes by method, so a known path asked with another method gets 405 and an
// Allow header instead of the router's 404.

interface Route {
  method: string;
  segments: string[];
}

/** Route templates (`/v1/orders/:id`) by method; matches concrete paths. */
export class RouteTable {
  private readonly routes: Route[] = [];

  add(method: string | string[], url: string): void {
    for (const m of Array.isArray(method) ? method : [method])
      this.routes.push({ method: m.toUpperCase(), segments: url.split('/') });
  }

  /** The methods some route answers `url` (path and query) with, sorted; empty if none. */
  allowed(url: string): string[] {
    const q = url.indexOf('?');
    const segments = (q === -1 ? url : url.slice(0, q)).split('/');
    const methods = new Set<string>();
    for (const r of this.routes) if (matches(r.segments, segments)) methods.add(r.method);
    return [...methods].sort();
  }
}

function matches(template: string[], path: string[]): boolean {
  for (let i = 0; i < template.length; i++) {
    const t = template[i];
    if (t === '*') return true;
    if (i >= path.length) return false;
    if (t.startsWith(':') ? path[i] === '' : t !== path[i]) return false;
  }
  return template.length === path.length;
}

const tables = new WeakMap<object, RouteTable>();

interface RouteSource {
  addHook(name: 'onRoute', hook: (route: { method: string | string[]; url: string }) => void): unknown;
}

/** Records every route registered on `fastify` from now on. */
export function trackRoutes(fastify: object): RouteTable {
  const table = new RouteTable();
  tables.set(fastify, table);
  (fastify as RouteSource).addHook('onRoute', (route) => table.add(route.method, route.url));
  return table;
}

/** The route table of `server` (a Fastify instance or one of its encapsulated children). */
export function routeTableOf(server: unknown): RouteTable | undefined {
  for (let s = server; s !== null && typeof s === 'object'; s = Object.getPrototypeOf(s) as unknown) {
    const table = tables.get(s);
    if (table) return table;
  }
  return undefined;
}
