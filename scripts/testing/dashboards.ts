import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The Grafana dashboards of monitoring/grafana/dashboards as the tests read them: their panels,
// and every query as the PromQL Prometheus answers when "All" is selected in each variable.

export interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { refId: string; expr: string }[];
}
export interface Dashboard {
  uid: string;
  panels: Panel[];
  templating?: { list: { name: string; query: { query: string } | string }[] };
}

const DIR = join(__dirname, '../../monitoring/grafana/dashboards');

export function loadDashboards(): Dashboard[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Dashboard);
}

/** Grafana's template variables replaced by what a query sees when "All" is selected. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '1m')
    .replace(/\$__interval|\$\{__interval\}/g, '15s')
    .replace(/\$__range|\$\{__range\}/g, '5m')
    .replace(/\$\{?[A-Za-z_]\w*\}?/g, '.*');
}

/** Grafana's `label_values(selector, label)` as the PromQL Prometheus answers for it. */
export function variableQuery(query: string): string {
  const m = /^label_values\((.*),\s*(\w+)\)$/.exec(query.trim());
  return m ? `count by (${m[2]}) (${substituteGrafanaVariables(m[1])})` : substituteGrafanaVariables(query);
}

/** Every panel query and template variable query of every dashboard, named, as PromQL. */
export function dashboardQueries(dashboards = loadDashboards()): { what: string; expr: string }[] {
  const out: { what: string; expr: string }[] = [];
  for (const d of dashboards) {
    for (const p of d.panels) {
      for (const t of p.targets ?? []) {
        out.push({ what: `${d.uid} / ${p.title} / ${t.refId}`, expr: substituteGrafanaVariables(t.expr) });
      }
    }
    for (const v of d.templating?.list ?? []) {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      out.push({ what: `${d.uid} / $${v.name}`, expr: variableQuery(q) });
    }
  }
  return out;
}
