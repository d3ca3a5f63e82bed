import './native-env'; // first: native/.run/env before native-services reads the ports
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { TOPICS, topicPlan } from '@trading/contracts';
import { createDataSource, MarketsRepository } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { checkAcknowledged, drain, platformReconcile, type AckCheck } from '../../loadtest/src/reconcile';
import { dbPool } from '../../loadtest/src/platform';
import { ExchangeClient, type Credentials } from '../testing/exchange-client';
import {
  ensureServices,
  GATEWAY_URL,
  secret,
  SERVICE_PORTS,
  type RunningServices,
} from '../testing/native-services';
import { replayTrades, storedTrades, topicEnds } from './engine-replay';

// Broker loss under load, on the native three-broker cluster (KAFKA_NODES=3 bash native/infra.sh up):
// signed orders flow through the gateway at a steady rate; a quarter of the way in, the broker
// that leads the partition of orders.sequenced.v1 the run's first market uses is SIGKILLed; half
// way it is started again (`bash native/infra.sh up`, the operator's path) while the load goes
// on, until durationSec and at least 15 s after the broker is back. Afterwards nothing may be
// lost or doubled:
//  - every order the gateway acknowledged (202) is in the database once, final or resting;
//  - the trades in the database equal an engine-only replay of orders.sequenced.v1;
//  - the money reconciles (order-router's reconcile.main: balances = ledger, holds, conservation);
//  - the restarted broker is back in every partition's ISR.
// Requests the gateway refused during the failover (503 + Retry-After) are counted, not failures;
// those refused orders that were placed anyway (the gateway's ack timeout passed, then Kafka took
// the command) are reported as refusedButPlaced.
//
//   node scripts/build.mjs   # the services run from dist/
//   node -r @swc-node/register scripts/chaos/broker-loss.ts --duration 60 --rate 20 [--json]

const root = join(__dirname, '../..');

export interface BrokerLossOptions {
  durationSec: number;
  /** Orders per second sent to the gateway. */
  rate: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface PhaseStats {
  requests: number;
  accepted: number;
  unavailable: number;
  other: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface BrokerLossResult {
  ok: boolean;
  failures: string[];
  runId: string;
  symbols: string[];
  durationSec: number;
  rate: number;
  victim: { nodeId: number; broker: string; pid: number; leaderOf: string[] } | null;
  killedAtSec: number | null;
  restartedAtSec: number | null;
  /** `infra.sh up` until the broker was ready again. */
  restartTookSec: number | null;
  /** From the restart until every partition of the platform topics had its full ISR again. */
  isrFullAfterSec: number | null;
  phases: { before: PhaseStats; outage: PhaseStats; after: PhaseStats };
  /** Not sent because too many requests were already in flight (the client kept its rate). */
  skipped: number;
  /**
   * Orders the gateway answered with an error (503 after its ack timeout, mostly) that are in
   * the database anyway: the command reached Kafka after the gateway gave up waiting.
   */
  refusedButPlaced: number;
  drainSec: number;
  orders: AckCheck;
  trades: Record<string, { replayed: number; stored: number; equal: boolean }>;
  replay: { commands: number; duplicates: number };
  reconcile: { ok: boolean; output: string };
}

interface Sample {
  at: number;
  ms: number;
  status: number; // 0: no HTTP answer
}

/** Requests in flight at most: beyond, the gateway only queues them past the signature window. */
const MAX_IN_FLIGHT = 64;
/** Load kept up after the killed broker is back. */
const AFTER_MS = 15_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}

function phaseStats(samples: Sample[]): PhaseStats {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const other: Record<string, number> = {};
  for (const s of samples)
    if (s.status !== 202 && s.status !== 503) other[String(s.status)] = (other[String(s.status)] ?? 0) + 1;
  return {
    requests: samples.length,
    accepted: samples.filter((s) => s.status === 202).length,
    unavailable: samples.filter((s) => s.status === 503).length,
    other,
    p50Ms: percentile(ms, 0.5),
    p99Ms: percentile(ms, 0.99),
    maxMs: Math.round(ms[ms.length - 1] ?? 0),
  };
}

/** The pid of native Kafka node `index` (native/.run/pids/kafka-N.pid), checked against its cmdline. */
function brokerPid(index: number): number {
  const file = join(root, 'native/.run/pids', `kafka-${index}.pid`);
  if (!existsSync(file)) throw new Error(`${file} missing: is the three-node Kafka of this checkout up?`);
  const pid = Number(readFileSync(file, 'utf8').trim());
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  if (!cmdline.includes('kafka.Kafka') || !cmdline.includes(`node-${index}/server.properties`))
    throw new Error(`pid ${pid} of ${file} is not Kafka node ${index}: ${cmdline.slice(0, 200)}`);
  return pid;
}

/** True when every partition of the platform topics has all its replicas in sync. */
async function isrFull(kafka: Kafka): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: topicPlan(1).map((t) => t.name) });
    return topics.every((t) => t.partitions.every((p) => p.isr.length === p.replicas.length));
  } catch {
    return false;
  } finally {
    await admin.disconnect();
  }
}

export async function brokerLossScenario(opts: BrokerLossOptions): Promise<BrokerLossResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[broker-loss] ${line}\n`));
  if (!(opts.durationSec >= 10)) throw new Error('durationSec must be at least 10');
  if (!(opts.rate > 0)) throw new Error('rate must be positive');
  // native-services fixed its ports when first imported; before native-env, they are the defaults.
  if (String(SERVICE_PORTS['api-gateway']) !== process.env.API_GATEWAY_PORT)
    throw new Error(
      `service ports computed before native/.run/env was loaded (gateway ${SERVICE_PORTS['api-gateway']}, ` +
        `env ${process.env.API_GATEWAY_PORT}): import scripts/chaos/native-env before scripts/testing/native-services`,
    );
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  if (brokers.length < 3)
    throw new Error(
      `broker loss needs the three-node Kafka (KAFKA_BROKERS=${process.env.KAFKA_BROKERS}): ` +
        `'bash native/infra.sh reset' then 'KAFKA_NODES=3 bash native/infra.sh up' and migrate`,
    );
  const partitions = Number(process.env.KAFKA_PARTITIONS ?? 12);
  const kafka = new Kafka({ clientId: 'broker-loss', brokers, logLevel: logLevel.NOTHING });
  const api = new ExchangeClient(GATEWAY_URL);
  const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
  const symbols = [`K${run}-USDT`, `L${run}-USDT`];
  const prefix = `bl-${run}-`;
  const failures: string[] = [];

  let services: RunningServices | undefined;
  let db: DataSource | undefined;
  let pool: Pool | undefined;
  let killedIndex = -1;
  let restart: ChildProcess | null = null;
  const restartLog = join(root, 'native/.run/logs/broker-loss-restart.log');
  const startBroker = (): ChildProcess =>
    spawn('bash', [join(root, 'native/infra.sh'), 'up'], {
      cwd: root,
      env: process.env,
      stdio: ['ignore', openSync(restartLog, 'a'), openSync(restartLog, 'a')],
    });

  try {
    // Reconciliation covers the whole database: it must hold before the run to mean anything after.
    const before = platformReconcile();
    if (!before.ok)
      throw new Error(
        `the database does not reconcile before the run (a platform reset clears it: bash native/infra.sh reset):\n${before.output}`,
      );
    services = await ensureServices();
    if (services.started.length) log(`started ${services.started.join(', ')} from dist/`);
    db = createDataSource(loadConfig(databaseSchema), { applicationName: 'broker-loss' });
    await db.initialize();
    pool = dbPool(4);
    const markets = new MarketsRepository(db);
    await markets.upsertAsset('USDT', 6);
    for (const s of symbols) {
      const base = s.split('-')[0];
      await markets.upsertAsset(base, 8);
      await markets.upsertMarket({
        symbol: s,
        baseAsset: base,
        quoteAsset: 'USDT',
        tickSize: '0.01',
        lotSize: '0.0001',
        minNotional: '0',
        makerFeeBps: 10,
        takerFeeBps: 25,
      });
    }

    // Eight accounts (spread over the command partitions), funded through the operator API.
    const operator = secret('operator_token');
    const accounts: (Credentials & { accountId: string })[] = [];
    for (let i = 0; i < 8; i++) {
      const accountId = `${prefix}${i}`;
      const res = await api.operator<{ apiKey: string; secret: string }>(
        operator,
        'POST',
        '/v1/operator/accounts',
        { accountId, name: `broker loss ${run}` },
      );
      if (res.status !== 201)
        throw new Error(`create account ${accountId}: ${res.status} ${JSON.stringify(res.body)}`);
      accounts.push({ accountId, apiKey: res.body.apiKey, secret: res.body.secret });
      for (const [asset, amount] of [
        ...symbols.map((s) => [s.split('-')[0], '1000'] as const),
        ['USDT', '10000000'] as const,
      ]) {
        const dep = await api.operator(operator, 'POST', '/v1/operator/deposits', {
          accountId,
          asset,
          amount,
        });
        if (dep.status !== 202) throw new Error(`deposit ${asset} to ${accountId}: ${dep.status}`);
      }
    }
    await api.until(
      'deposits applied',
      async () => {
        const { rows } = await pool!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM balances WHERE account_id LIKE $1 AND available > 0`,
          [`${prefix}%`],
        );
        return rows[0].n === accounts.length * (symbols.length + 1) ? true : undefined;
      },
      60_000,
    );
    await api.marketsListed(symbols, 30_000);
    const from = await topicEnds(kafka, TOPICS.ordersSequenced.name);

    // The load: `rate` orders a second in 100 ms ticks, prices around 100.00 so both sides trade.
    const samples: Sample[] = [];
    const acked = new Set<string>();
    // clientOrderIds the gateway refused (not 202), to find refused orders that were placed anyway.
    const refused = new Set<string>();
    const inFlight = new Set<Promise<void>>();
    let skipped = 0;
    let n = 0;
    const place = (): void => {
      const i = n++;
      const account = accounts[i % accounts.length];
      const symbol = symbols[Math.floor(i / accounts.length) % symbols.length];
      const side = i % 2 === 0 ? 'buy' : 'sell';
      const ticks = 10_000 + (((i * 7919) % 21) - 10);
      const body = {
        symbol,
        side,
        type: 'limit',
        price: `${Math.floor(ticks / 100)}.${String(ticks % 100).padStart(2, '0')}`,
        quantity: `0.000${1 + (i % 9)}`,
        timeInForce: i % 10 === 0 ? 'IOC' : 'GTC',
        clientOrderId: `${run}-${i}`,
      };
      const at = Date.now();
      const p = api
        .signed<{ orderId?: string }>(account, 'POST', '/v1/orders', body)
        .then(
          (res) => {
            if (res.status === 202 && res.body.orderId) acked.add(res.body.orderId);
            else refused.add(body.clientOrderId);
            samples.push({ at, ms: Date.now() - at, status: res.status });
          },
          () => {
            refused.add(body.clientOrderId);
            samples.push({ at, ms: Date.now() - at, status: 0 });
          },
        )
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };

    const t0 = Date.now();
    const durationMs = opts.durationSec * 1000;
    let killedAt: number | null = null;
    let restartedAt: number | null = null;
    let restartDone: number | null = null;
    let victim: BrokerLossResult['victim'] = null;
    let restartExit: Promise<unknown> | null = null;
    let owed = 0;
    let lastProgress = t0;
    log(`run ${run}: ${opts.rate} orders/s for ${opts.durationSec}s on ${symbols.join(', ')}`);
    // At least durationSec, and at least AFTER_MS past the broker's return (so the recovered
    // cluster carries load too), but never more than durationSec + 180 s.
    const loadGoes = () => {
      const now = Date.now();
      if (now - t0 < durationMs) return true;
      if (now - t0 >= durationMs + 180_000) return false;
      return restartedAt !== null && (restartDone === null || now - restartDone < AFTER_MS);
    };
    for (let tick = 0; loadGoes(); tick++) {
      const elapsed = Date.now() - t0;
      if (killedAt === null && elapsed >= durationMs * 0.25) {
        // The leader of the sequenced partition of the first market, found right before the kill.
        const admin = kafka.admin();
        await admin.connect();
        const meta = await admin.fetchTopicMetadata({
          topics: [TOPICS.orderCommands.name, TOPICS.ordersSequenced.name, TOPICS.executions.name],
        });
        const cluster = await admin.describeCluster();
        await admin.disconnect();
        const seqPartition = partitionFor(symbols[0], partitions);
        const leader = meta.topics
          .find((t) => t.name === TOPICS.ordersSequenced.name)!
          .partitions.find((p) => p.partitionId === seqPartition)!.leader;
        const inUse: Record<string, Set<number>> = {
          [TOPICS.orderCommands.name]: new Set(accounts.map((a) => partitionFor(a.accountId, partitions))),
          [TOPICS.ordersSequenced.name]: new Set(symbols.map((s) => partitionFor(s, partitions))),
          [TOPICS.executions.name]: new Set(symbols.map((s) => partitionFor(s, partitions))),
        };
        const leaderOf = meta.topics.flatMap((t) =>
          t.partitions
            .filter((p) => p.leader === leader && inUse[t.name].has(p.partitionId))
            .map((p) => `${t.name}/${p.partitionId}`),
        );
        const node = cluster.brokers.find((b) => b.nodeId === leader)!;
        const broker = `${node.host}:${node.port}`;
        killedIndex = brokers.findIndex((b) => b.endsWith(`:${node.port}`));
        const pid = brokerPid(killedIndex);
        victim = { nodeId: leader, broker, pid, leaderOf };
        process.kill(pid, 'SIGKILL');
        killedAt = Date.now();
        log(
          `t=${((killedAt - t0) / 1000).toFixed(1)}s SIGKILL kafka-${killedIndex} (node ${leader}, ${broker}, pid ${pid}), leader of ${leaderOf.join(' ')}`,
        );
      }
      if (killedAt !== null && restartedAt === null && elapsed >= durationMs * 0.5) {
        restartedAt = Date.now();
        log(
          `t=${((restartedAt - t0) / 1000).toFixed(1)}s restarting kafka-${killedIndex}: bash native/infra.sh up (log ${restartLog})`,
        );
        restart = startBroker();
        restartExit = once(restart, 'exit').then(([code]) => {
          restartDone = Date.now();
          if (code !== 0) failures.push(`infra.sh up (broker restart) exited with ${String(code)}`);
          else
            log(
              `kafka-${killedIndex} ready again after ${((restartDone - restartedAt!) / 1000).toFixed(1)}s`,
            );
        });
      }
      owed += opts.rate / 10;
      for (; owed >= 1; owed--) {
        if (inFlight.size >= MAX_IN_FLIGHT) skipped++;
        else place();
      }
      if (Date.now() - lastProgress >= 10_000) {
        lastProgress = Date.now();
        log(
          `t=${((lastProgress - t0) / 1000).toFixed(0)}s sent ${n}, acknowledged ${acked.size}, in flight ${inFlight.size}`,
        );
      }
      await sleep(Math.max(0, t0 + (tick + 1) * 100 - Date.now()));
    }
    await Promise.all([...inFlight]);
    log(`load done: ${samples.length} requests, ${acked.size} acknowledged`);
    if (restartExit) await Promise.race([restartExit, sleep(300_000)]);
    if (restartDone === null) failures.push('the killed broker was not ready within 300 s of its restart');

    let isrFullAt: number | null = null;
    const isrDeadline = Date.now() + 180_000;
    while (isrFullAt === null && Date.now() < isrDeadline) {
      if (await isrFull(kafka)) isrFullAt = Date.now();
      else await sleep(1000);
    }
    if (isrFullAt === null) failures.push('partitions still under-replicated 180 s after the load');

    const drained = await drain(pool, prefix, 180_000, log);
    if (drained.pending > 0) failures.push(`${drained.pending} orders still pending after 180 s`);
    // market-data stores trades on its own: wait until their count holds still.
    let last = -1;
    for (let stable = 0, i = 0; stable < 4 && i < 240; i++) {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM trades WHERE symbol = ANY($1)`,
        [symbols],
      );
      stable = rows[0].n === last ? stable + 1 : 0;
      last = rows[0].n;
      await sleep(500);
    }

    const to = await topicEnds(kafka, TOPICS.ordersSequenced.name);
    const replay = await replayTrades(kafka, db, symbols, from, to);
    const trades: BrokerLossResult['trades'] = {};
    for (const s of symbols) {
      const expected = replay.trades.get(s) ?? [];
      const stored = await storedTrades(db, s);
      const equal = expected.length === stored.length && expected.every((t, i) => t === stored[i]);
      trades[s] = { replayed: expected.length, stored: stored.length, equal };
      if (!equal)
        failures.push(
          `${s}: ${stored.length} trades stored, the replay gives ${expected.length} (or they differ)`,
        );
    }
    if (Object.values(trades).every((t) => t.replayed === 0))
      failures.push('no trades: the load did not cross');

    const orders = await checkAcknowledged(pool, prefix, acked);
    const { rows: placedRows } = await pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM orders WHERE account_id LIKE $1 AND client_order_id = ANY($2) GROUP BY status`,
      [`${prefix}%`, [...refused]],
    );
    const refusedButPlaced = placedRows.reduce((a, r) => a + r.n, 0);
    if (!orders.ok)
      failures.push(
        `acknowledged orders: ${orders.missing} missing, ${orders.pending} not final or resting (or duplicated)`,
      );
    if (acked.size === 0) failures.push('the gateway acknowledged no order');
    const reconcile = platformReconcile();
    if (!reconcile.ok) failures.push(`reconciliation failed (exit ${reconcile.exitCode})`);
    if (!victim) failures.push('no broker was killed (the run was too short)');

    const sec = (t: number | null) => (t === null ? null : Math.round((t - t0) / 100) / 10);
    const kAt = killedAt ?? Infinity;
    const rAt = restartDone ?? restartedAt ?? Infinity;
    return {
      ok: failures.length === 0,
      failures,
      runId: run,
      symbols,
      durationSec: opts.durationSec,
      rate: opts.rate,
      victim,
      killedAtSec: sec(killedAt),
      restartedAtSec: sec(restartedAt),
      restartTookSec: restartDone && restartedAt ? Math.round((restartDone - restartedAt) / 100) / 10 : null,
      isrFullAfterSec: isrFullAt && restartedAt ? Math.round((isrFullAt - restartedAt) / 100) / 10 : null,
      phases: {
        before: phaseStats(samples.filter((s) => s.at < kAt)),
        outage: phaseStats(samples.filter((s) => s.at >= kAt && s.at < rAt)),
        after: phaseStats(samples.filter((s) => s.at >= rAt)),
      },
      skipped,
      refusedButPlaced,
      drainSec: Math.round(drained.waitedMs / 100) / 10,
      orders,
      trades,
      replay: { commands: replay.commands, duplicates: replay.duplicates },
      reconcile: { ok: reconcile.ok, output: reconcile.output },
    };
  } finally {
    // Never leave the cluster a broker short.
    if (killedIndex >= 0 && restart === null) {
      log(`restarting kafka-${killedIndex} after a failed run`);
      await once(startBroker(), 'exit');
    }
    await pool?.end();
    await db?.destroy();
    await services?.stop();
  }
}

export function summary(r: BrokerLossResult): string {
  const ph = (name: string, p: PhaseStats) =>
    `  ${name.padEnd(7)} ${String(p.requests).padStart(6)} requests  ${String(p.accepted).padStart(6)} × 202  ` +
    `${String(p.unavailable).padStart(5)} × 503  other ${JSON.stringify(p.other)}  p50 ${p.p50Ms} ms  p99 ${p.p99Ms} ms  max ${p.maxMs} ms`;
  return [
    `broker loss ${r.ok ? 'OK' : 'FAILED'} (run ${r.runId}, ${r.rate} orders/s for ${r.durationSec}s)`,
    r.victim
      ? `  killed node ${r.victim.nodeId} (${r.victim.broker}) at ${r.killedAtSec}s, leader of ${r.victim.leaderOf.join(' ')}`
      : '  no broker killed',
    `  restarted at ${r.restartedAtSec}s, ready after ${r.restartTookSec}s, full ISR after ${r.isrFullAfterSec}s`,
    ph('before', r.phases.before),
    ph('outage', r.phases.outage),
    ph('after', r.phases.after),
    `  skipped (over ${MAX_IN_FLIGHT} in flight) ${r.skipped}; refused (non-202) but placed anyway ${r.refusedButPlaced}; drained in ${r.drainSec}s`,
    `  orders: ${r.orders.acknowledged} acknowledged, ${r.orders.found} found, ${r.orders.missing} missing, ` +
      `${r.orders.pending} not final/resting, ${r.orders.unacknowledged} in the DB without a 202; ${JSON.stringify(r.orders.byStatus)}`,
    ...Object.entries(r.trades).map(
      ([s, t]) =>
        `  trades ${s}: ${t.stored} stored, ${t.replayed} replayed, ${t.equal ? 'equal' : 'DIFFERENT'}`,
    ),
    `  replay: ${r.replay.commands} commands, ${r.replay.duplicates} router re-sends dropped`,
    `  reconciliation ${r.reconcile.ok ? 'ok' : 'FAILED'}`,
    ...r.failures.map((f) => `  FAIL: ${f}`),
    ...(r.reconcile.ok ? [] : r.reconcile.output.split('\n').map((l) => `    ${l}`)),
  ].join('\n');
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      rate: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
    },
  });
  brokerLossScenario({ durationSec: Number(values.duration), rate: Number(values.rate) })
    .then((r) => {
      process.stdout.write(`${values.json ? JSON.stringify(r, null, 2) : summary(r)}\n`);
      process.exit(r.ok ? 0 : 1);
    })
    .catch((err: unknown) => {
      process.stderr.write(
        `broker loss: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(2);
    });
}
