import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { databaseSchema, kafkaSchema, loadConfig } from '@trading/config';
import { TOPICS } from '@trading/contracts';
import { createDataSource, MarketsRepository } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { ExchangeClient } from '../testing/exchange-client';
import {
  SERVICE_PORTS,
  secret,
  startService,
  stopProcess,
  testPort,
  waitReady,
} from '../testing/native-services';
import { ChaosLoad, type LoadAccount, type LoadStats } from './load';
import { drainAndReconcile, sequencedEnds, type Reconciliation } from './reconcile';

// Crash recovery under a steady load, shared by the integration test (scripts/chaos.int-spec.ts)
// and `npm run chaos` (scripts/chaos/run-chaos.ts). It starts its own services from dist/ on
// testPort(187xx) ports, drives signed orders through that gateway, SIGKILLs each kind of process
// in turn and restarts it, then reconciles (scripts/chaos/reconcile.ts).

export const FAULT_KINDS = [
  'api-gateway',
  'order-router',
  'matching-worker',
  'market-data',
  'kafka',
  'pgbouncer',
  'redis',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  /** Load time from the first order to the last (stretched when recoveries take longer). */
  durationMs: number;
  /** Placements (and a few cancels) per second through the gateway. */
  rate: number;
  faults: FaultKind[];
  /** Accounts and fresh symbols the load uses. */
  accounts?: number;
  symbols?: number;
  /** Pause between the SIGKILL and the restart. */
  downtimeMs?: number;
  /** Load after a recovery before the next fault. */
  gapMs?: number;
  /** Every order type in the load mix (`ChaosLoad`'s `orderTypes`), not only limit and IOC. */
  orderTypes?: boolean;
  log?: (message: string) => void;
}

export interface FaultReport {
  kind: FaultKind;
  /** What was killed (service instance or infrastructure pid). */
  target: string;
  /** Kill to restart issued, kill to the restarted process ready, kill to orders flowing end to end. */
  downMs: number;
  readyMs: number;
  flowMs: number | null;
}

export interface ChaosReport {
  ok: boolean;
  runTag: string;
  symbols: string[];
  loadMs: number;
  totalMs: number;
  load: LoadStats;
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
};
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
    await api.until(
      'markets listed by the gateway',
      async () => {
        const res = await api.public<{ data: { symbol: string }[] }>('/v1/markets');
        return symbols.every((s) => res.body.data.some((m) => m.symbol === s)) ? true : undefined;
      },
      60_000,
    );
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
    const warmupMs = Math.min(5000, options.durationMs / 4);
    const spacing = (options.durationMs - warmupMs) / Math.max(1, options.faults.length);
    let nextAt = loadStarted + warmupMs;
    for (const [i, kind] of options.faults.entries()) {
      await sleep(nextAt - Date.now());
      let target: string;
      let killedAt: number;
      let restartAt: number;
      if (kind === 'kafka' || kind === 'pgbouncer' || kind === 'redis') {
        const pid = infraPid(kind);
        target = `${kind} pid ${pid}`;
        killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
        while (!gone(pid)) await sleep(50);
        log(`fault ${kind}: SIGKILL ${target}`);
        await sleep(downtimeMs);
        restartAt = Date.now();
        await infraUp(logFile);
      } else {
        const key =
          kind === 'matching-worker'
            ? `worker-${await workerOwning(kafka, partitionFor(symbols[0], partitions), matchingGroup)}`
            : kind;
        target = key;
        killedAt = Date.now();
        await fleet.kill(key);
        log(`fault ${kind}: SIGKILL ${key}`);
        await sleep(downtimeMs);
        restartAt = Date.now();
        fleet.restart(key);
        await fleet.ready(key);
      }
      const readyAt = Date.now();
      const flowAt = await flowing(readyAt);
      const report: FaultReport = {
        kind,
        target,
        downMs: restartAt - killedAt,
        readyMs: readyAt - killedAt,
        flowMs: flowAt === null ? null : flowAt - killedAt,
      };
      faults.push(report);
      log(
        `fault ${kind}: restarted; ready after ${report.readyMs} ms, orders flowing end to end after ${report.flowMs ?? 'never'} ms`,
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
    const ok =
      reconciliation.ok &&
      drained.pending === 0 &&
      load.stats.conflictingAcks === 0 &&
      faults.every((f) => f.flowMs !== null) &&
      faults.length === options.faults.length;
    return {
      ok,
      runTag,
      symbols,
      loadMs,
      totalMs: Date.now() - runStartedAt,
      load: load.stats,
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
  }
}

export function parseFaults(text: string): FaultKind[] {
  if (text === 'all') return [...FAULT_KINDS];
  const list = text
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of list)
    if (!(FAULT_KINDS as readonly string[]).includes(f))
      throw new Error(`unknown fault ${f} (known: ${FAULT_KINDS.join(', ')}, or all)`);
  return list as FaultKind[];
}

/** The report as a few lines for a terminal or a failed test. */
export function summarize(r: ChaosReport): string {
  const lines = [
    `chaos run ${r.runTag}: ${r.ok ? 'OK' : 'FAILED'}`,
    `  load ${Math.round(r.loadMs / 1000)} s (total ${Math.round(r.totalMs / 1000)} s) on ${r.symbols.join(', ')}`,
    `  orders: ${r.load.placements} placed, ${r.load.acknowledged} acknowledged, ${r.load.refused} refused, ${r.load.abandoned} abandoned, ${r.load.retries} retries; cancels ${r.load.cancelsAcknowledged} acknowledged`,
    `  failed attempts by cause: ${JSON.stringify(r.load.failures)}; refused: ${JSON.stringify(r.load.refusedBy)}`,
    ...r.faults.map(
      (f) =>
        `  fault ${f.kind.padEnd(15)} ${f.target.padEnd(20)} down ${(f.downMs / 1000).toFixed(1)} s, ready after ${(f.readyMs / 1000).toFixed(1)} s, flowing after ${f.flowMs === null ? 'NEVER' : `${(f.flowMs / 1000).toFixed(1)} s`}`,
    ),
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
