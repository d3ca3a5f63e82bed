import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { substituteGrafanaVariables } from './testing/dashboards';

// Offline checks of the monitoring overlay (monitoring/): Prometheus configs and rules through
// promtool (check config, check rules, the unit tests of every alert), Alertmanager through
// amtool (config and routing), and the structure of every Grafana dashboard. promtool and amtool
// come with Debian's prometheus / prometheus-alertmanager (native/infra.sh installs them); in CI
// a missing tool fails the test, elsewhere it is skipped.

const root = join(__dirname, '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const PROM = 'monitoring/prometheus';
const RULES = `${PROM}/rules`;
const TESTS = `${PROM}/tests`;
const AM_CONFIG = 'monitoring/alertmanager/alertmanager.yml';
const DASHBOARDS = 'monitoring/grafana/dashboards';
const RUNBOOKS = 'docs/runbooks.md';

const tool = (name: string, args: string[]): boolean =>
  spawnSync(name, args, { encoding: 'utf8' }).status === 0;
const withTool = (name: string): jest.It =>
  tool(name, ['--version']) || process.env.CI === 'true' ? it : it.skip;

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}
interface AlertTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[];
}
interface TestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: AlertTest[] }[];
}
interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating?: { list: { name: string; query: { query: string } | string; datasource?: { uid?: string } }[] };
}

const ruleFiles = readdirSync(join(root, RULES)).filter((f) => f.endsWith('.yml'));
const rules: Rule[] = ruleFiles.flatMap((f) =>
  (YAML.parse(read(`${RULES}/${f}`)) as RuleFile).groups.flatMap((g) => g.rules),
);
const alerts = rules.filter((r): r is Rule & { alert: string } => Boolean(r.alert));
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const testFiles = readdirSync(join(root, TESTS)).filter((f) => f.endsWith('.yml'));
const dashboardFiles = readdirSync(join(root, DASHBOARDS)).filter((f) => f.endsWith('.json'));
const dashboards = dashboardFiles.map((f) => ({
  file: f,
  d: JSON.parse(read(`${DASHBOARDS}/${f}`)) as Dashboard,
}));
// The datasource uid both Grafana deployments provision.
const datasourceUids = ['compose/grafana/datasources.yml', 'swarm/grafana/datasources.yml'].map(
  (p) =>
    (YAML.parse(read(p)) as { datasources: { uid: string; type: string }[] }).datasources.find(
      (d) => d.type === 'prometheus',
    )?.uid,
);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
      m[1]
        .trim()
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('monitoring overlay (offline)', () => {
  jest.setTimeout(60_000);

  describe('Prometheus', () => {
    const configs = readdirSync(join(root, PROM)).filter((f) => /^prometheus.*\.yml$/.test(f));

    it('has a config per deployment, each loading every rule file', () => {
      expect(configs.sort()).toEqual([
        'prometheus.compose.yml',
        'prometheus.native.yml',
        'prometheus.swarm.yml',
      ]);
      for (const f of configs) {
        expect((YAML.parse(read(`${PROM}/${f}`)) as { rule_files: string[] }).rule_files).toEqual([
          'rules/*.yml',
        ]);
      }
    });

    withTool('promtool').each(configs)('promtool check config %s', (f) => {
      const r = run('promtool', ['check', 'config', `${PROM}/${f}`]);
      expect({ status: r.status, out: r.out }).toEqual({
        status: 0,
        out: expect.stringContaining('SUCCESS') as string,
      });
    });

    withTool('promtool')('promtool check rules passes on every rule file', () => {
      const r = run('promtool', ['check', 'rules', ...ruleFiles.map((f) => `${RULES}/${f}`)]);
      expect({ status: r.status, out: r.out }).toEqual({
        status: 0,
        out: expect.stringContaining('SUCCESS') as string,
      });
    });

    withTool('promtool')('promtool test rules: every unit test passes', () => {
      const r = run('promtool', ['test', 'rules', ...testFiles.map((f) => `${TESTS}/${f}`)]);
      expect({ status: r.status, out: r.out }).toEqual({
        status: 0,
        out: expect.not.stringContaining('FAILED') as string,
      });
    });

    it('every alert has a unit test where it fires and one where it stays silent', () => {
      const cases = testFiles.flatMap((f) =>
        (YAML.parse(read(`${TESTS}/${f}`)) as TestFile).tests.flatMap((t) => t.alert_rule_test ?? []),
      );
      const fires = new Set(cases.filter((c) => (c.exp_alerts ?? []).length > 0).map((c) => c.alertname));
      const silent = new Set(cases.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => c.alertname));
      const names = alerts.map((a) => a.alert);
      expect(names.filter((n) => !fires.has(n))).toEqual([]);
      expect(names.filter((n) => !silent.has(n))).toEqual([]);
      // And no test names an alert that does not exist.
      expect([...fires, ...silent].filter((n) => !names.includes(n))).toEqual([]);
    });

    it('the unit tests load the rule files they test', () => {
      for (const f of testFiles) {
        const doc = YAML.parse(read(`${TESTS}/${f}`)) as TestFile;
        for (const rf of doc.rule_files) expect(ruleFiles).toContain(rf.replace('../rules/', ''));
      }
    });

    it('every alert has a severity, a summary and a runbook link to an existing anchor', () => {
      const known = anchors(read(RUNBOOKS));
      for (const a of alerts) {
        expect({ alert: a.alert, severity: a.labels?.severity }).toEqual({
          alert: a.alert,
          severity: expect.stringMatching(/^(critical|warning)$/) as string,
        });
        expect(a.annotations?.summary).toBeTruthy();
        const m = /^docs\/runbooks\.md#([\w-]+)$/.exec(a.annotations?.runbook_url ?? '');
        expect({ alert: a.alert, anchor: m?.[1], exists: m ? known.has(m[1]) : false }).toEqual({
          alert: a.alert,
          anchor: a.alert.toLowerCase(),
          exists: true,
        });
      }
    });

    it('alerts and recording rules have unique names; recorded series are named level:metric:operation', () => {
      const names = alerts.map((a) => a.alert);
      expect(names.length).toBe(new Set(names).size);
      const records = rules.flatMap((r) => (r.record ? [r.record] : []));
      expect(records.length).toBe(recorded.size);
      for (const r of records) expect(r).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
    });

    it("covers the issue's alerts: down, error budget, order latency, lag, DB writes, Kafka, disk", () => {
      expect(alerts.map((a) => a.alert)).toEqual(
        expect.arrayContaining([
          'ServiceDown',
          'HighErrorRatio',
          'OrderAckLatencyHigh',
          'ConsumerLagGrowing',
          'DatabaseWriteFailures',
          'KafkaUnreachable',
          'DatabaseUnreachable',
          'RedisUnreachable',
          'DiskFillingUp',
        ]),
      );
    });
  });

  describe('Alertmanager', () => {
    withTool('amtool')('amtool check-config passes', () => {
      const r = run('amtool', ['check-config', AM_CONFIG]);
      expect({ status: r.status, out: r.out }).toEqual({
        status: 0,
        out: expect.stringContaining('SUCCESS') as string,
      });
    });

    withTool('amtool').each([
      ['severity=critical', 'critical'],
      ['severity=warning', 'warning'],
      ['severity=info', 'default'],
    ])('routes %s to the %s receiver', (label, receiver) => {
      const r = run('amtool', [
        'config',
        'routes',
        'test',
        `--config.file=${AM_CONFIG}`,
        'alertname=Any',
        label,
      ]);
      expect(r.status).toBe(0);
      expect(r.out.split('\n')[0].trim()).toBe(receiver);
    });

    it('has only receivers that need no external service, and inhibits only alerts that exist', () => {
      const am = YAML.parse(read(AM_CONFIG)) as {
        receivers: Record<string, unknown>[];
        inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
        route: { group_by: string[] };
      };
      for (const r of am.receivers) expect(Object.keys(r)).toEqual(['name']);
      expect(am.route.group_by).toEqual(expect.arrayContaining(['alertname', 'service']));
      const names = new Set(alerts.map((a) => a.alert));
      const mentioned = am.inhibit_rules
        .flatMap((r) => [...r.source_matchers, ...r.target_matchers])
        .flatMap((m) => {
          const mm = /^alertname=~?"(.+)"$/.exec(m);
          return mm ? mm[1].split('|') : [];
        });
      expect(mentioned.length).toBeGreaterThan(0);
      expect(mentioned.filter((n) => !names.has(n))).toEqual([]);
      // ServiceDown and KafkaUnreachable mute the symptoms of the same service.
      const roots = am.inhibit_rules
        .filter((r) => r.equal.includes('service'))
        .map((r) => r.source_matchers[0]);
      expect(roots).toEqual(
        expect.arrayContaining(['alertname="ServiceDown"', 'alertname="KafkaUnreachable"']),
      );
    });
  });

  describe('Grafana dashboards', () => {
    it('provisions the platform overview, order pipeline, matching engine, persistence, Node runtime and k6', () => {
      expect(dashboards.map(({ d }) => d.uid).sort()).toEqual(
        [
          'k6',
          'matching-engine',
          'node-runtime',
          'order-pipeline',
          'persistence',
          'platform-overview',
        ].sort(),
      );
      for (const { file, d } of dashboards) expect(file).toBe(`${d.uid}.json`);
      expect(new Set(dashboards.map(({ d }) => d.title)).size).toBe(dashboards.length);
    });

    it('both deployments provision the Prometheus datasource under one uid', () => {
      expect(datasourceUids[0]).toBeTruthy();
      expect(datasourceUids[1]).toBe(datasourceUids[0]);
    });

    it.each(dashboardFiles)(
      '%s: unique panel ids, provisioned datasource, every target has an expr',
      (file) => {
        const d = (dashboards.find((x) => x.file === file) as { d: Dashboard }).d;
        expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
        expect(d.panels.length).toBeGreaterThan(0);
        const ids = d.panels.map((p) => p.id);
        expect(ids.every((id) => Number.isInteger(id))).toBe(true);
        expect(ids.length).toBe(new Set(ids).size);
        const problems: string[] = [];
        for (const p of d.panels) {
          const { x, y, w, h } = p.gridPos;
          if (![x, y, w, h].every(Number.isInteger) || x < 0 || w < 1 || x + w > 24 || h < 1)
            problems.push(`${p.title}: gridPos out of the 24-column grid`);
          if (p.type === 'row') continue;
          if (!p.title) problems.push(`panel ${p.id}: no title`);
          if (p.datasource?.uid !== datasourceUids[0])
            problems.push(`${p.title}: datasource ${p.datasource?.uid}`);
          const targets = p.targets ?? [];
          if (targets.length === 0) problems.push(`${p.title}: no targets`);
          const refIds = targets.map((t) => t.refId);
          if (new Set(refIds).size !== refIds.length) problems.push(`${p.title}: duplicate refId`);
          for (const t of targets) {
            if (!t.expr?.trim()) problems.push(`${p.title} ${t.refId}: no expr`);
            if (t.datasource && t.datasource.uid !== datasourceUids[0])
              problems.push(`${p.title} ${t.refId}: datasource ${t.datasource.uid}`);
          }
        }
        for (const v of d.templating?.list ?? []) {
          if (v.datasource && v.datasource.uid !== datasourceUids[0])
            problems.push(`variable ${v.name}: datasource`);
        }
        // Panels must not overlap.
        const cells = new Set<string>();
        for (const p of d.panels) {
          for (let i = p.gridPos.x; i < p.gridPos.x + p.gridPos.w; i++) {
            for (let j = p.gridPos.y; j < p.gridPos.y + p.gridPos.h; j++) {
              if (cells.has(`${i},${j}`)) problems.push(`${p.title}: overlaps another panel at ${i},${j}`);
              cells.add(`${i},${j}`);
            }
          }
        }
        expect(problems).toEqual([]);
      },
    );

    it('every recorded series a panel reads is produced by a recording rule', () => {
      const missing = dashboards.flatMap(({ d }) =>
        d.panels
          .flatMap((p) => p.targets ?? [])
          .flatMap((t) =>
            [...(t.expr ?? '').matchAll(/\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b/g)].map((m) => m[1]),
          )
          .filter((name) => !recorded.has(name)),
      );
      expect(missing).toEqual([]);
    });

    withTool('promtool')(
      'every panel query parses as PromQL (promtool check rules on a generated file)',
      () => {
        // promtool has no offline expression parser of its own; a rule file of the panel queries
        // (variables substituted as Grafana would with "All") gets every expr parsed.
        const exprs = dashboards.flatMap(({ d }) =>
          d.panels.flatMap((p) => (p.targets ?? []).map((t) => substituteGrafanaVariables(t.expr ?? ''))),
        );
        const file = join(mkdtempSync(join(tmpdir(), 'dash-rules-')), 'panels.yml');
        writeFileSync(
          file,
          YAML.stringify({
            groups: [
              { name: 'panels', rules: exprs.map((expr, i) => ({ record: `panel:query:q${i}`, expr })) },
            ],
          }),
        );
        const r = run('promtool', ['check', 'rules', file]);
        expect({ status: r.status, out: r.out }).toEqual({
          status: 0,
          out: expect.stringContaining('SUCCESS') as string,
        });
      },
    );
  });
});
