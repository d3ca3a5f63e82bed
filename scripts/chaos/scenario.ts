import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { databaseSchema, kafkaSchema, loadConfig } from '@trading/config';
import { TOPICS } from '@trading/contracts';
import { createDataSource, MarketsRepository } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { ExchangeClient } from '../testing/exchange-client';
import {
  nativeEnv,
  SERVICE_PORTS,
  secret,
  startService,
  stopProcess,
  testPort,
  waitReady,
} from '../testing/native-services';
import { configuredPrimaryPort, failBack, primaryPort, promotedFrom } from '../testing/redis-sentinel';
import { until } from '../testing/until';
import { ChaosLoad, type LoadAccount, type LoadStats } from './load';
import { drainAndReconcile, sequencedEnds, type Reconciliation } from './reconcile';

// Crash recovery under a steady load, shared by the integration tests (scripts/chaos.int-spec.ts,
// scripts/chaos-combined.int-spec.ts) and `npm run chaos` (scripts/chaos/run-chaos.ts). It starts
// its own services from dist/ on testPort(187xx) ports, drives signed orders through that gateway,
// SIGKILLs each kind of process (or two at once) in turn and restarts it, then reconciles
// (scripts/chaos/reconcile.ts).

/** The kinds restarted within the pause: scripts/chaos.int-spec.ts kills each of them. */
export const FAULT_KINDS = [
  'api-gateway',
  'order-router',
  'matching-worker',
  'market-data',
  'kafka',
  'pgbouncer',
  'redis',
] as const;
/**
 * The PostgreSQL primary's postmaster: crash recovery, then PgBouncer's server_login_retry, so
 * tens of seconds (scripts/chaos-combined.int-spec.ts).
 */
export const SLOW_FAULT_KINDS = ['postgres'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | (typeof SLOW_FAULT_KINDS)[number];
/** One kind, or two SIGKILLed at the same moment (`matching-worker+kafka`). */
export type Fault = FaultKind | `${FaultKind}+${FaultKind}`;
/** The pairs issue 23 asks for: a worker with the broker, the Redis primary with a gateway. */
export const PAIRED_FAULTS = [
  'matching-worker+kafka',
  'redis+api-gateway',
] as const satisfies readonly Fault[];
const INFRA_KINDS: readonly FaultKind[] = ['kafka', 'pgbouncer', 'redis', 'postgres'];

export interface ChaosOptions {
  /** Load time from the first order to the last (stretched when recoveries take longer). */
  durationMs: number;
  /** Placements (and a few cancels) per second through the gateway. */
  rate: number;
  faults: Fault[];
  /** Accounts and fresh symbols the load uses. */
  accounts?: number;
  symbols?: number;
  /** Pause between the SIGKILL and the restart. */
  downtimeMs?: number;
  /** Load after a recovery before the next fault. */
  gapMs?: number;
  /** Load before the first fault (default a quarter of the run, at most 5 s). */
  warmupMs?: number;
  /** One fault this often after the warm-up (default: the rest of the run spread evenly). */
  faultEveryMs?: number;
  /** Every order type in the load mix (`ChaosLoad`'s `orderTypes`), not only limit and IOC. */
  orderTypes?: boolean;
  log?: (message: string) => void;
}

/**
 * The soak of issue 23 (`npm run chaos -- --soak`): 5 minutes at 500 orders/s over four symbols,
 * a fault every minute from 0:30 on (each with the rest of its minute to recover), the two pairs
 * and PostgreSQL among them.
 */
export const SOAK_RUN: ChaosOptions = {
  durationMs: 300_000,
  rate: 500,
  accounts: 12,
  symbols: 4,
  downtimeMs: 2000,
  warmupMs: 30_000,
  faultEveryMs: 60_000,
  faults: ['matching-worker+kafka', 'postgres', 'redis+api-gateway', 'order-router', 'pgbouncer'],
};

/** The short run of the integration tests (20 s between the warm-up and the end, 1 s down). */
export const SHORT_RUN: Omit<ChaosOptions, 'faults'> = {
  durationMs: 30_000,
  rate: 25,
  accounts: 4,
  symbols: 1,
  downtimeMs: 1000,
  gapMs: 2000,
  log: (m) => process.stdout.write(`[chaos] ${m}\n`),
};

export interface FaultReport {
  kind: Fault;
  /** What was killed (service instances and infrastructure pids). */
  target: string;
  /** Kill to restart issued, kill to the restarted process ready, kill to orders flowing end to end. */
  downMs: number;
  readyMs: number;
  flowMs: number | null;
  /** Failed attempts of the load from the kill until orders flowed again, by cause. */
  failures: Record<string, number>;
  /** Kill to the last failed attempt of that window: clients were served again after it. */
  lastFailureMs: number | null;
  /** Run processes that were not killed but exited or changed pid meanwhile (must be none). */
  unexpectedExits: string[];
  /** Per kind: PostgreSQL's and Sentinel's moments (ms after the kill), the replica's reconnection. */
  detail: Record<string, number | string | boolean | null>;
}

export interface ChaosReport {
  ok: boolean;
  runTag: string;
  symbols: string[];
  loadMs: number;
  totalMs: number;
  load: LoadStats;
  /** Failed attempts answered with a 5xx other than 503 (a 500 is a bug, never an outage). */
  serverErrors: number;
  faults: FaultReport[];
  drain: { pending: number; waitedMs: number };
  reconciliation: Reconciliation;
  /** Where the services' logs went. */
  logs: string;
}

const root = join(__dirname, '../..');
const RUN_DIR = join(root, 'native/.run');
const PORTS = {
  'api-gateway': testPort(18780),
  'order-router': testPort(18781),
  'market-data': testPort(18782),
  worker: (i: number) => testPort(18790 + i),
};
const WORKERS = 2;
const INFRA_PROCESS: Record<string, string> = {
  kafka: 'kafka.Kafka',
  pgbouncer: 'pgbouncer',
  redis: 'redis-server',
  postgres: 'bin/postgres',
  'postgres-replica': 'bin/postgres',
};
/** The replica's walreceiver names itself by the replica's cluster_name (native/lib/postgres.sh). */
const REPLICA_APPLICATION = 'native_replica';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

interface Managed {
  service: string;
  port: number;
  instance: string;
  env: Record<string, string>;
  child: ChildProcess;
}

/** The run's own service processes, started, SIGKILLed and restarted by key. */
class Fleet {
  private readonly procs = new Map<string, Managed>();
  private readonly all: ChildProcess[] = [];

  constructor(private readonly logFd: number) {}

  start(
    key: string,
    service: string,
    port: number,
    instance: string,
    env: Record<string, string> = {},
  ): void {
    const child = startService(service, port, instance, env, this.logFd);
    this.all.push(child);
    this.procs.set(key, { service, port, instance, env, child });
  }

  async ready(key: string): Promise<void> {
    const m = this.procs.get(key)!;
    await waitReady(m.port, m.child, 180_000);
  }

  async kill(key: string): Promise<void> {
    const { child } = this.procs.get(key)!;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${key} already exited`);
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  restart(key: string): void {
    const m = this.procs.get(key)!;
    this.start(key, m.service, m.port, m.instance, m.env);
  }

  /** Each run process by key: its pid while it runs, undefined once it exited. */
  pids(): Map<string, number | undefined> {
    return new Map(
      [...this.procs].map(([key, { child }]) => [
        key,
        child.exitCode === null && child.signalCode === null ? child.pid : undefined,
      ]),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map(stopProcess));
  }
}

function infraPid(name: string): number {
  const file = join(RUN_DIR, 'pids', `${name}.pid`);
  const pid = Number(readFileSync(file, 'utf8').trim());
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  if (!cmdline.includes(INFRA_PROCESS[name]))
    throw new Error(`${file} names pid ${pid}, which is not ${name}: ${cmdline.slice(0, 120)}`);
  return pid;
}

/** True once `pid` has exited (gone, or a zombie nobody reaped yet). */
export function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function infraUp(logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', `bash native/infra.sh up >>"${logFile}" 2>&1`],
      { cwd: root, timeout: 300_000 },
      (err) =>
        err ? reject(new Error(`native/infra.sh up failed (see ${logFile}): ${err.message}`)) : resolve(),
    );
  });
}

/** The processes `pid` started (a postmaster's backends and auxiliary processes), by their ppid. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** True when the primary accepts connections (crash recovery over), by pg_isready on its own port. */
function primaryAccepts(port: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('pg_isready', ['-q', '-h', '127.0.0.1', '-p', port, '-t', '1'], { timeout: 3000 }, (err) =>
      resolve(!err),
    );
  });
}

/** The test worker (by Kafka client id chaos-w<i>) that owns `partition` of orders.sequenced.v1. */
async function workerOwning(kafka: Kafka, partition: number, groupId: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let members = '';
    for (let i = 0; i < 240; i++) {
      const [group] = (await admin.describeGroups([groupId])).groups;
      members = JSON.stringify(group.members.map((m) => m.clientId));
      if (group.state === 'Stable')
        for (const m of group.members) {
          const owned = m.memberAssignment.length
            ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[
                TOPICS.ordersSequenced.name
              ]
            : undefined;
          const w = /^chaos-w(\d+)$/.exec(m.clientId);
          if (w && owned?.includes(partition)) return Number(w[1]);
        }
      await sleep(500);
    }
    throw new Error(`no test worker owns partition ${partition} of ${groupId}; members ${members}`);
  } finally {
    await admin.disconnect();
  }
}

/** Refuses to run beside the services of `npm run platform`: they share the consumer groups. */
async function refuseSharedGroups(): Promise<void> {
  const running: string[] = [];
  for (const [name, port] of Object.entries(SERVICE_PORTS)) if (await answers(port)) running.push(name);
  if (running.length)
    throw new Error(
      `services of \`npm run platform\` are running (${running.join(', ')}): they share the consumer groups, so a killed test service would not be the owner; stop them first (npm run platform -- down)`,
    );
  const ours = [
    PORTS['api-gateway'],
    PORTS['order-router'],
    PORTS['market-data'],
    PORTS.worker(0),
    PORTS.worker(1),
  ];
  for (const port of ours)
    if (await answers(port))
      throw new Error(`port ${port} of the chaos run is in use: a previous run left a service behind?`);
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const downtimeMs = options.downtimeMs ?? 2000;
  const gapMs = options.gapMs ?? 3000;
  const runStartedAt = Date.now();
  const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
  const runTag = `chaos-${run}`;
  const symbols = Array.from({ length: options.symbols ?? 1 }, (_, i) => `K${run}${i}-USDT`);
  const accountIds = Array.from({ length: options.accounts ?? 4 }, (_, i) => `${runTag}-${i}`);
  const logFile = join(RUN_DIR, 'logs', `chaos-${run}.log`);

  await refuseSharedGroups();
  const kafkaConfig = loadConfig(kafkaSchema);
  const kafka = new Kafka({
    brokers: kafkaConfig.KAFKA_BROKERS,
    clientId: 'chaos',
    logLevel: logLevel.NOTHING,
  });
  const partitions = kafkaConfig.KAFKA_PARTITIONS;
  const db: DataSource = createDataSource(loadConfig(databaseSchema), { applicationName: 'chaos' });
  await db.initialize();
  const logFd = openSync(logFile, 'a');
  const fleet = new Fleet(logFd);
  let load: ChaosLoad | undefined;
  try {
    await openMarkets(db, symbols);
    const sequencedFrom = await sequencedEnds(kafka, [
      ...new Set(symbols.map((s) => partitionFor(s, partitions))),
    ]);

    log(`run ${runTag}: starting services (logs in ${logFile})`);
    fleet.start('api-gateway', 'api-gateway', PORTS['api-gateway'], 'chaos-gw');
    fleet.start('order-router', 'order-router', PORTS['order-router'], 'chaos-r');
    fleet.start('market-data', 'market-data', PORTS['market-data'], 'chaos-md');
    for (let i = 0; i < WORKERS; i++)
      fleet.start(`worker-${i}`, 'matching-worker', PORTS.worker(i), `chaos-${i}`, {
        KAFKA_CLIENT_ID: `chaos-w${i}`,
      });
    await Promise.all(
      [
        'api-gateway',
        'order-router',
        'market-data',
        ...Array.from({ length: WORKERS }, (_, i) => `worker-${i}`),
      ].map((k) => fleet.ready(k)),
    );

    const gatewayUrl = `http://127.0.0.1:${PORTS['api-gateway']}`;
    const api = new ExchangeClient(gatewayUrl);
    await api.marketsListed(symbols, 60_000);
    const accounts = await openAccounts(api, db, accountIds, symbols);

    // The worker to kill owns the first symbol's partition: found in the group by client id.
    const matchingGroup = process.env.MATCHING_GROUP_ID ?? 'matching-worker';
    load = new ChaosLoad(
      gatewayUrl,
      accounts,
      symbols.map((symbol) => ({ symbol, midTicks: 10_000 })),
      options.rate,
      runTag,
      { orderTypes: options.orderTypes },
    );
    log(`load: ${options.rate} orders/s on ${symbols.join(', ')} over ${accountIds.length} accounts`);
    const loadStarted = Date.now();
    load.start();

    /** First moment an order received after `since` left 'pending' and a trade after it was stored. */
    const flowing = async (since: number): Promise<number | null> => {
      const deadline = Date.now() + 180_000;
      while (Date.now() < deadline) {
        try {
          const [row] = (await db.query(
            `SELECT EXISTS (SELECT 1 FROM orders WHERE account_id = ANY($1) AND received_at >= $3 AND status <> 'pending') AS o,
                    EXISTS (SELECT 1 FROM trades WHERE symbol = ANY($2) AND executed_at >= $3) AS t`,
            [accountIds, symbols, new Date(since)],
          )) as { o: boolean; t: boolean }[];
          if (row.o && row.t) return Date.now();
        } catch {
          // PgBouncer on its way back
        }
        await sleep(250);
      }
      return null;
    };

    const faults: FaultReport[] = [];
    const warmupMs = options.warmupMs ?? Math.min(5000, options.durationMs / 4);
    const spacing =
      options.faultEveryMs ?? (options.durationMs - warmupMs) / Math.max(1, options.faults.length);
    let nextAt = loadStarted + warmupMs;
    for (const [i, fault] of options.faults.entries()) {
      await sleep(nextAt - Date.now());
      const report = await inject(fault, {
        fleet,
        load,
        db,
        downtimeMs,
        logFile,
        log,
        serviceKey: async (kind) =>
          kind === 'matching-worker'
            ? `worker-${await workerOwning(kafka, partitionFor(symbols[0], partitions), matchingGroup)}`
            : kind,
        flowing,
      });
      faults.push(report);
      log(
        `fault ${fault}: restarted; ready after ${report.readyMs} ms, orders flowing end to end after ${report.flowMs ?? 'never'} ms; failed attempts ${JSON.stringify(report.failures)}${Object.keys(report.detail).length ? `; ${JSON.stringify(report.detail)}` : ''}`,
      );
      nextAt = Math.max(loadStarted + warmupMs + (i + 1) * spacing, Date.now() + gapMs);
    }
    await sleep(Math.max(loadStarted + options.durationMs, Date.now() + gapMs) - Date.now());
    log('load: stopping; waiting for requests in flight');
    await load.stop(60_000);
    const loadMs = Date.now() - loadStarted;

    const { drained, reconciliation } = await drainAndReconcile({
      db,
      kafka,
      partitions,
      symbols,
      accountIds,
      acked: load.acked,
      sequencedFrom,
      gatewayUrl,
      runStartedAt,
      log,
    });
    const serverErrors = Object.entries(load.stats.failures)
      .filter(([cause]) => /^5\d\d/.test(cause) && !cause.startsWith('503'))
      .reduce((n, [, count]) => n + count, 0);
    const ok =
      reconciliation.ok &&
      drained.pending === 0 &&
      load.stats.conflictingAcks === 0 &&
      load.stats.unavailableWithoutRetryAfter === 0 &&
      serverErrors === 0 &&
      faults.every((f) => f.flowMs !== null && f.unexpectedExits.length === 0) &&
      faults.length === options.faults.length;
    return {
      ok,
      runTag,
      symbols,
      loadMs,
      totalMs: Date.now() - runStartedAt,
      load: load.stats,
      serverErrors,
      faults,
      drain: drained,
      reconciliation,
      logs: logFile,
    };
  } finally {
    // After a failure mid-run: stop issuing, let the requests in flight give up.
    await load?.stop(0);
    await fleet.stop();
    closeSync(logFd);
    await db.destroy().catch(() => undefined);
    // A Sentinel failover moved the Redis primary: back to REDIS_URL's node, as other suites expect.
    if (options.faults.some((f) => f.includes('redis')) && primaryPort() !== configuredPrimaryPort()) {
      log('redis: failing back to the configured primary');
      await failBack();
    }
  }
}

interface InjectContext {
  fleet: Fleet;
  load: ChaosLoad;
  db: DataSource;
  downtimeMs: number;
  logFile: string;
  log: (message: string) => void;
  /** The run process a service kind's fault kills (the matching worker owning the first symbol). */
  serviceKey: (kind: FaultKind) => Promise<string>;
  /** When orders received after `since` flow end to end again (null: not within 3 minutes). */
  flowing: (since: number) => Promise<number | null>;
}

/**
 * One fault: every process of `fault` SIGKILLed at the same moment; after the pause the
 * infrastructure comes back first (`native/infra.sh up`; for the Redis primary killed with
 * something else, Sentinel's promotion of the replica, the old primary rejoining meanwhile) and
 * then the run's services are started again (one that cannot reach Kafka at boot exits, so it
 * waits for the broker as its supervisor's next restart would).
 */
async function inject(fault: Fault, ctx: InjectContext): Promise<FaultReport> {
  const { fleet, load, db, log } = ctx;
  const kinds = fault.split('+') as FaultKind[];
  const infra = kinds.filter((k) => INFRA_KINDS.includes(k));
  const keys = await Promise.all(kinds.filter((k) => !INFRA_KINDS.includes(k)).map(ctx.serviceKey));
  const failover = infra.includes('redis') && kinds.length > 1;
  const killPostgres = infra.includes('postgres');
  const pids = infra.map((k) => infraPid(k));
  const target = [...keys, ...infra.map((k, i) => `${k} pid ${pids[i]}`)].join(' + ');
  const replicaPid = killPostgres ? infraPid('postgres-replica') : undefined;
  const redisPrimary = failover ? primaryPort() : undefined;
  // A killed postmaster's children exit when they notice; a new one cannot start before.
  const backends = killPostgres ? childrenOf(pids[infra.indexOf('postgres')]) : [];
  const before = fleet.pids();
  const failuresFrom = load.failedAttempts.length;
  const detail: FaultReport['detail'] = {};

  const killedAt = Date.now();
  for (const pid of pids) process.kill(pid, 'SIGKILL');
  await Promise.all(keys.map((k) => fleet.kill(k)));
  for (const pid of pids) while (!gone(pid)) await sleep(50);
  log(`fault ${fault}: SIGKILL ${target}`);
  if (backends.length) {
    for (const deadline = Date.now() + 60_000; backends.some((c) => !gone(c)) && Date.now() < deadline;)
      await sleep(50);
    detail.backendsExitedMs = Date.now() - killedAt;
  }
  await sleep(ctx.downtimeMs);
  const restartAt = Date.now();
  let pgAccepting: Promise<void> = Promise.resolve();
  if (killPostgres) {
    const port = nativeEnv().DATABASE_DIRECT_PORT;
    pgAccepting = (async () => {
      for (const deadline = Date.now() + 300_000; Date.now() < deadline; await sleep(200))
        if (await primaryAccepts(port)) {
          detail.primaryAcceptingMs = Date.now() - killedAt;
          return;
        }
    })();
  }
  let rejoin: Promise<void> = Promise.resolve();
  if (failover) {
    await promotedFrom(redisPrimary);
    detail.redisPromotedMs = Date.now() - killedAt;
    // The old primary rejoins as a replica while the services come back.
    rejoin = infraUp(ctx.logFile);
  } else if (infra.length) {
    await infraUp(ctx.logFile);
  }
  if (infra.length) detail.infraBackMs = Date.now() - killedAt;
  for (const k of keys) fleet.restart(k);
  await Promise.all([rejoin, pgAccepting, ...keys.map((k) => fleet.ready(k))]);
  const readyAt = Date.now();
  const flowAt = await ctx.flowing(readyAt);
  const windowEnd = flowAt ?? Date.now();

  const failures: Record<string, number> = {};
  let lastFailure: number | null = null;
  for (const f of load.failedAttempts.slice(failuresFrom)) {
    if (f.at < killedAt || f.at > windowEnd) continue;
    failures[f.cause] = (failures[f.cause] ?? 0) + 1;
    lastFailure = Math.max(lastFailure ?? 0, f.at);
  }
  // Nothing else was restarted: every run process not killed here runs with the same pid.
  const after = fleet.pids();
  const unexpectedExits = [...before]
    .filter(([key, pid]) => !keys.includes(key) && after.get(key) !== pid)
    .map(([key, pid]) => `${key} (pid ${pid} -> ${after.get(key) ?? 'exited'})`);
  if (killPostgres) Object.assign(detail, await replicaAfter(db, killedAt, replicaPid!));
  if (failover) detail.redisPrimaryPort = primaryPort() ?? null;
  return {
    kind: fault,
    target,
    downMs: restartAt - killedAt,
    readyMs: readyAt - killedAt,
    flowMs: flowAt === null ? null : flowAt - killedAt,
    failures,
    lastFailureMs: lastFailure === null ? null : lastFailure - killedAt,
    unexpectedExits,
    detail,
  };
}

/**
 * The hot standby after the primary's crash: streaming again (its walreceiver reconnects by
 * itself) without having been restarted, and when its new walsender started.
 */
async function replicaAfter(
  db: DataSource,
  killedAt: number,
  replicaPid: number,
): Promise<FaultReport['detail']> {
  const row = await until(
    'the replica streaming from the restarted primary',
    async () => {
      const [r] = (await db.query(
        `SELECT state, backend_start FROM pg_stat_replication WHERE application_name = $1`,
        [REPLICA_APPLICATION],
      )) as { state: string; backend_start: Date }[];
      return r?.state === 'streaming' ? r : undefined;
    },
    120_000,
    250,
  );
  return {
    replicaStreaming: true,
    replicaReconnectedMs: new Date(row.backend_start).getTime() - killedAt,
    replicaRestarted: infraPid('postgres-replica') !== replicaPid,
  };
}

/**
 * `--faults`: a comma-separated list of kinds, pairs `a+b` killed together, `all` (every kind once,
 * PostgreSQL included) and `pairs` (PAIRED_FAULTS), in the order given.
 */
export function parseFaults(text: string): Fault[] {
  const known: readonly string[] = [...FAULT_KINDS, ...SLOW_FAULT_KINDS];
  const faults: Fault[] = [];
  for (const item of text
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)) {
    if (item === 'all') faults.push(...FAULT_KINDS, ...SLOW_FAULT_KINDS);
    else if (item === 'pairs') faults.push(...PAIRED_FAULTS);
    else {
      const parts = item.split('+');
      for (const part of parts)
        if (!known.includes(part))
          throw new Error(
            `unknown fault ${part} (known: ${known.join(', ')}; a+b for two at once; all; pairs)`,
          );
      if (parts.length > 2 || new Set(parts).size !== parts.length)
        throw new Error(`fault ${item}: at most two different kinds at once`);
      faults.push(item as Fault);
    }
  }
  return faults;
}

/** The report as a few lines for a terminal or a failed test. */
export function summarize(r: ChaosReport): string {
  const lines = [
    `chaos run ${r.runTag}: ${r.ok ? 'OK' : 'FAILED'}`,
    `  load ${Math.round(r.loadMs / 1000)} s (total ${Math.round(r.totalMs / 1000)} s) on ${r.symbols.join(', ')}`,
    `  orders: ${r.load.placements} placed, ${r.load.acknowledged} acknowledged, ${r.load.refused} refused, ${r.load.abandoned} abandoned, ${r.load.retries} retries, ${r.load.heldBack} held back; cancels ${r.load.cancelsAcknowledged} acknowledged`,
    `  failed attempts by cause: ${JSON.stringify(r.load.failures)}; refused: ${JSON.stringify(r.load.refusedBy)}`,
    `  5xx other than 503: ${r.serverErrors}; 503 without Retry-After: ${r.load.unavailableWithoutRetryAfter}`,
    ...r.faults.flatMap((f) => [
      `  fault ${f.kind.padEnd(15)} ${f.target.padEnd(20)} down ${(f.downMs / 1000).toFixed(1)} s, ready after ${(f.readyMs / 1000).toFixed(1)} s, flowing after ${f.flowMs === null ? 'NEVER' : `${(f.flowMs / 1000).toFixed(1)} s`}`,
      `        failed attempts ${JSON.stringify(f.failures)}, the last ${f.lastFailureMs === null ? 'none' : `${(f.lastFailureMs / 1000).toFixed(1)} s`} after the kill${f.unexpectedExits.length ? `; EXITED: ${f.unexpectedExits.join(', ')}` : ''}${Object.keys(f.detail).length ? `; ${JSON.stringify(f.detail)}` : ''}`,
    ]),
    `  drain: ${r.drain.pending} pending after ${(r.drain.waitedMs / 1000).toFixed(1)} s`,
    `  trades ${r.reconciliation.trades}, ledger rows checked ${r.reconciliation.ledgerRows}, lost ${r.reconciliation.lost}, duplicated ${r.reconciliation.duplicated}, conflicting acks ${r.load.conflictingAcks}`,
    ...r.reconciliation.checks.map(
      (c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${JSON.stringify(c.detail)}`,
    ),
    `  service logs: ${r.logs}`,
  ];
  return lines.join('\n');
}

/** Fresh markets (tick 0.01, lot 0.001, fees 10/25 bps) quoted in USDT: the replay starts from an empty book. */
export async function openMarkets(db: DataSource, symbols: string[]): Promise<void> {
  const markets = new MarketsRepository(db);
  await markets.upsertAsset('USDT', 6);
  for (const symbol of symbols) {
    await markets.upsertAsset(symbol.split('-')[0], 8);
    await markets.upsertMarket({
      symbol,
      baseAsset: symbol.split('-')[0],
      quoteAsset: 'USDT',
      tickSize: '0.01',
      lotSize: '0.001',
      minNotional: '0',
      makerFeeBps: 10,
      takerFeeBps: 25,
    });
  }
}

/** Accounts opened through the operator API and funded in USDT and every symbol's base asset. */
export async function openAccounts(
  api: ExchangeClient,
  db: DataSource,
  accountIds: string[],
  symbols: string[],
): Promise<LoadAccount[]> {
  const operator = secret('operator_token');
  const accounts: LoadAccount[] = [];
  for (const accountId of accountIds) {
    const res = await api.operator<{ apiKey: string; secret: string }>(
      operator,
      'POST',
      '/v1/operator/accounts',
      { accountId, name: 'chaos' },
    );
    if (res.status !== 201)
      throw new Error(`account ${accountId}: ${res.status} ${JSON.stringify(res.body)}`);
    accounts.push({ accountId, apiKey: res.body.apiKey, secret: res.body.secret });
    for (const [asset, amount] of [
      ['USDT', '10000000'],
      ...symbols.map((s) => [s.split('-')[0], '100000']),
    ]) {
      const dep = await api.operator(operator, 'POST', '/v1/operator/deposits', { accountId, asset, amount });
      if (dep.status !== 202) throw new Error(`deposit ${asset} to ${accountId}: ${dep.status}`);
    }
  }
  const funded = accountIds.length * (symbols.length + 1);
  await api.until(
    'deposits applied',
    async () => {
      const [{ n }] = (await db.query(
        `SELECT count(*)::int AS n FROM balances WHERE account_id = ANY($1) AND available > 0`,
        [accountIds],
      )) as { n: number }[];
      return n >= funded ? true : undefined;
    },
    60_000,
  );
  return accounts;
}
