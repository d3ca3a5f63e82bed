import { randomUUID } from 'node:crypto';
import { AssignerProtocol, Kafka, logLevel } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { databaseSchema, kafkaSchema, loadConfig } from '@trading/config';
import { TOPICS } from '@trading/contracts';
import { createDataSource } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { ExchangeClient, until, type StreamClient } from '../testing/exchange-client';
import { GATEWAY_URL, platform, platformPid, SERVICE_PORTS, testPort } from '../testing/native-services';
import { ChaosLoad, type FailedAttempt, type LoadStats } from './load';
import { drainAndReconcile, sequencedEnds, type Reconciliation } from './reconcile';
import { gone, openAccounts, openMarkets } from './scenario';

// The scaled-out native topology under load (issue 23 item 3): `SCALE_OUT=1 npm run platform`
// (two gateways behind HAProxy, two order-routers sharing the co-partitioned partitions, two
// market-data instances). Orders go through HAProxy at a steady rate (scripts/chaos/load.ts: a
// failed attempt is sent again with the same clientOrderId) and a WebSocket subscriber of every
// symbol's trades reconnects through HAProxy whenever its connection drops. One gateway (the
// subscriber's), one market-data and one order-router are SIGKILLed a few seconds apart, each
// with its supervisor first, so nothing restarts them: what follows is failover, not restart.
// Before them HAProxy itself is SIGKILLed (not its supervisor): the one process every client goes
// through, restarted by its supervisor as systemd's Restart=always would.
// Then the reconciliation (scripts/chaos/reconcile.ts), and `SCALE_OUT=1 npm run platform`
// starts the killed ones again. Shared by scripts/scale-out.int-spec.ts and
// `npm run chaos -- --scale-out`.

export const SCALED_PORTS = {
  edge: SERVICE_PORTS['api-gateway'],
  'api-gateway': Number(process.env.API_GATEWAY_BASE_PORT ?? testPort(8070)),
  'api-gateway-1': Number(process.env.API_GATEWAY_BASE_PORT ?? testPort(8070)) + 1,
  'order-router': SERVICE_PORTS['order-router'],
  'order-router-1': Number(process.env.ORDER_ROUTER_1_PORT ?? testPort(8072)),
  'market-data': SERVICE_PORTS['market-data'],
  'market-data-1': Number(process.env.MARKET_DATA_1_PORT ?? testPort(8073)),
} as const;
type Instance = Exclude<keyof typeof SCALED_PORTS, 'edge'>;

export interface ScaleOutOptions {
  /** Placements (and a few cancels) per second through HAProxy. */
  rate: number;
  /** Load from the first order to the last. */
  durationMs: number;
  /** Load before the first kill, and between two kills. */
  warmupMs?: number;
  spacingMs?: number;
  log?: (message: string) => void;
}

export interface KillReport {
  instance: Instance | 'haproxy';
  at: number;
  /** From the kill to: the first order sent after it acknowledged (gateway), the survivor
   * owning every partition (order-router), trades of every symbol stored again (all). */
  acceptingMs: number | null;
  takeoverMs: number | null;
  tradesMs: number | null;
}

export interface ScaleOutReport {
  ok: boolean;
  runTag: string;
  symbols: string[];
  load: LoadStats;
  kills: KillReport[];
  /** Failed attempts (all retried), and those of them not within 5 s after the HAProxy or gateway kill. */
  failed: FailedAttempt[];
  failedOutsideKill: number;
  /** Longest pause between two acknowledgements while the load ran. */
  longestAckGapMs: number;
  routerPartitionsBefore: number[][];
  routerPartitionsAfter: number[][];
  /** Orders acknowledged between the router kill and the takeover (settled after it). */
  ackedDuringTakeover: number;
  subscriber: { onKilledGateway: boolean; reconnects: number; updatesAfterLastKill: Record<string, number> };
  drain: { pending: number; waitedMs: number };
  reconciliation: Reconciliation;
  /** `SCALE_OUT=1 npm run platform` starting the killed instances again. */
  restartMs: number;
  routerPartitionsRestarted: number[][];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Partitions of `topic` per member of a stable consumer group (sorted), else undefined. */
async function ownership(kafka: Kafka, groupId: string, topic: string): Promise<number[][] | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [group] = (await admin.describeGroups([groupId])).groups;
    if (group.state !== 'Stable') return undefined;
    return group.members
      .map((m) =>
        m.memberAssignment.length
          ? [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [])].sort(
              (a, b) => a - b,
            )
          : [],
      )
      .sort((a, b) => (a[0] ?? -1) - (b[0] ?? -1));
  } finally {
    await admin.disconnect();
  }
}

/** Names whose partitions cover both halves of a two-member co-partition split (p % 2). */
function spread(prefix: string, count: number, partitions: number, make: (i: number) => string): string[] {
  const byParity: string[][] = [[], []];
  for (let i = 0; byParity[0].length + byParity[1].length < count; i++) {
    const name = make(i);
    const half = byParity[partitionFor(name, partitions) % 2];
    if (half.length < count / 2) half.push(name);
    if (i > 10_000) throw new Error(`no ${prefix} names spread over both routers`);
  }
  return [...byParity[0], ...byParity[1]];
}

async function wsConnections(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^\w*ws_connections(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
}

/** A subscriber of every symbol's trades through HAProxy that reconnects when its socket drops. */
class TradesSubscriber {
  reconnects = 0;
  /** Time each update was seen (polled every 50 ms), per symbol. */
  readonly updates = new Map<string, number[]>();
  private client: StreamClient | undefined;
  private seen = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly api: ExchangeClient,
    private readonly symbols: string[],
  ) {}

  async start(): Promise<void> {
    await this.connect();
    this.timer = setInterval(() => void this.poll(), 50);
  }

  stop(): void {
    clearInterval(this.timer);
    this.client?.close();
  }

  updatesSince(t: number): Record<string, number> {
    return Object.fromEntries(
      this.symbols.map((s) => [s, (this.updates.get(s) ?? []).filter((at) => at > t).length]),
    );
  }

  private async connect(): Promise<void> {
    const client = this.api.stream();
    for (const symbol of this.symbols) await client.send({ op: 'subscribe', channel: `trades:${symbol}` });
    await client.waitFor((m) => m.type === 'snapshot', 10_000);
    this.client = client;
    this.seen = 0;
  }

  private async poll(): Promise<void> {
    if (this.busy || !this.client) return;
    this.busy = true;
    try {
      const { messages } = this.client;
      for (; this.seen < messages.length; this.seen++) {
        const m = messages[this.seen];
        const symbol = m.channel?.startsWith('trades:') ? m.channel.slice('trades:'.length) : undefined;
        if (m.type === 'update' && symbol) {
          const list = this.updates.get(symbol) ?? [];
          list.push(Date.now());
          this.updates.set(symbol, list);
        }
      }
      if (this.client.closeCode !== null) {
        this.reconnects++;
        for (;;) {
          try {
            await this.connect();
            break;
          } catch {
            await sleep(250);
          }
        }
      }
    } finally {
      this.busy = false;
    }
  }
}

/** SIGKILLs an instance's supervisor, then the instance: neither comes back by itself. */
/** SIGKILL of HAProxy alone: its supervisor starts it again (native/lib/supervise.sh). */
async function killEdge(): Promise<number> {
  const pid = platformPid('haproxy.pid');
  if (!pid || !platformPid('haproxy.pid.supervisor'))
    throw new Error('haproxy is not running under its supervisor');
  const at = Date.now();
  process.kill(pid, 'SIGKILL');
  while (!gone(pid)) await sleep(20);
  return at;
}

async function killInstance(name: Instance): Promise<number> {
  const supervisor = platformPid(`${name}.pid.supervisor`);
  const pid = platformPid(`${name}.pid`);
  if (!supervisor || !pid) throw new Error(`${name} is not running under its supervisor`);
  const at = Date.now();
  process.kill(supervisor, 'SIGKILL');
  process.kill(pid, 'SIGKILL');
  while (!gone(pid)) await sleep(20);
  return at;
}

/**
 * Runs the drill on the scaled topology, which must be up (`SCALE_OUT=1 npm run platform`); leaves
 * it up with every instance running again.
 */
export async function runScaleOutDrill(options: ScaleOutOptions): Promise<ScaleOutReport> {
  const log = options.log ?? (() => undefined);
  const warmupMs = options.warmupMs ?? 6000;
  const spacingMs = options.spacingMs ?? 5000;
  const runStartedAt = Date.now();
  const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
  const runTag = `scale-${run}`;
  const kafkaConfig = loadConfig(kafkaSchema);
  const partitions = kafkaConfig.KAFKA_PARTITIONS;
  // Accounts on both routers' halves, symbols on both market-data halves.
  const accountIds = spread('account', 6, partitions, (i) => `${runTag}-a${i}`);
  const symbols = spread('symbol', 4, partitions, (i) => `S${run}${i}-USDT`);
  const kafka = new Kafka({
    brokers: kafkaConfig.KAFKA_BROKERS,
    clientId: 'scale-out',
    logLevel: logLevel.NOTHING,
  });
  const routerGroup = process.env.ORDER_ROUTER_GROUP_ID ?? 'order-router';
  const commands = TOPICS.orderCommands.name;
  /** The routers' partitions of the commands topic once `members` routers split them evenly. */
  const routersOwning = (members: number, what: string) =>
    until(
      what,
      async () => {
        const owned = await ownership(kafka, routerGroup, commands);
        return owned?.length === members && owned.every((p) => p.length === partitions / members)
          ? owned
          : undefined;
      },
      60_000,
      200,
    );
  const db: DataSource = createDataSource(loadConfig(databaseSchema), { applicationName: 'scale-out' });
  await db.initialize();
  const api = new ExchangeClient(GATEWAY_URL);
  const subscriber = new TradesSubscriber(api, symbols);
  let load: ChaosLoad | undefined;
  try {
    await openMarkets(db, symbols);
    const sequencedFrom = await sequencedEnds(kafka, [
      ...new Set(symbols.map((s) => partitionFor(s, partitions))),
    ]);
    for (const port of [SCALED_PORTS['api-gateway'], SCALED_PORTS['api-gateway-1']]) {
      const gateway = new ExchangeClient(`http://127.0.0.1:${port}`);
      await gateway.marketsListed(symbols, 60_000);
    }
    const accounts = await openAccounts(api, db, accountIds, symbols);
    const routerPartitionsBefore = await routersOwning(2, 'two routers sharing the partitions');
    log(`routers own partitions ${JSON.stringify(routerPartitionsBefore)}`);

    load = new ChaosLoad(
      GATEWAY_URL,
      accounts,
      symbols.map((symbol) => ({ symbol, midTicks: 10_000 })),
      options.rate,
      runTag,
    );
    log(
      `load: ${options.rate} orders/s through HAProxy on ${symbols.join(', ')}, ${accountIds.length} accounts`,
    );
    const loadStarted = Date.now();
    load.start();
    await subscriber.start();
    await sleep(warmupMs);

    const edgeKill: KillReport = {
      instance: 'haproxy',
      at: await killEdge(),
      acceptingMs: null,
      takeoverMs: null,
      tradesMs: null,
    };
    log('SIGKILL haproxy (its supervisor restarts it)');
    const gatewayPorts = [SCALED_PORTS['api-gateway'], SCALED_PORTS['api-gateway-1']];
    await until(
      'the subscriber connected again through the restarted HAProxy',
      async () =>
        (await Promise.all(gatewayPorts.map(wsConnections))).some((n) => n > 0) ? true : undefined,
      30_000,
    );
    await sleep(spacingMs);

    // The gateway the subscriber is connected to (through HAProxy) is the one killed.
    const wsOn1 = (await wsConnections(SCALED_PORTS['api-gateway-1'])) > 0;
    const victims: Instance[] = [wsOn1 ? 'api-gateway-1' : 'api-gateway', 'market-data-1', 'order-router-1'];
    const subscriberOnVictim = (await wsConnections(SCALED_PORTS[victims[0]])) > 0;
    const reconnectsBeforeGatewayKill = subscriber.reconnects;
    const kills: KillReport[] = [edgeKill];
    for (const [i, instance] of victims.entries()) {
      if (i > 0) await sleep(spacingMs);
      const at = await killInstance(instance);
      log(`SIGKILL ${instance} (and its supervisor)`);
      kills.push({ instance, at, acceptingMs: null, takeoverMs: null, tradesMs: null });
    }
    const [, gatewayKill, , routerKill] = kills;
    const routerPartitionsAfter = await routersOwning(1, 'the surviving router owning every partition');
    routerKill.takeoverMs = Date.now() - routerKill.at;
    log(
      `router takeover ${routerKill.takeoverMs} ms after the kill: ${JSON.stringify(routerPartitionsAfter)}`,
    );
    // Trades of every symbol after each kill (the router's: after the takeover).
    for (const k of kills) {
      const since = k === routerKill ? routerKill.at + (routerKill.takeoverMs ?? 0) : k.at;
      const tradesAt = await api.until(
        `trades of every symbol after the ${k.instance} kill`,
        async () => {
          const rows = (await db.query(
            `SELECT symbol, min(executed_at) AS first FROM trades WHERE symbol = ANY($1) AND executed_at > $2 GROUP BY symbol`,
            [symbols, new Date(since)],
          )) as { symbol: string; first: Date }[];
          return rows.length === symbols.length ? Math.max(...rows.map((r) => r.first.getTime())) : undefined;
        },
        60_000,
      );
      k.tradesMs = tradesAt - k.at;
    }
    await sleep(loadStarted + options.durationMs - Date.now());
    log('load: stopping; waiting for requests in flight');
    await load.stop(60_000);
    subscriber.stop();
    const lastKill = kills[kills.length - 1].at;

    const acks = [...load.acked.values()];
    for (const k of kills) {
      const first = acks.filter((a) => a.sentAt >= k.at).reduce((m, a) => Math.min(m, a.ackedAt), Infinity);
      k.acceptingMs = Number.isFinite(first) ? first - k.at : null;
    }
    const takeoverAt = routerKill.at + (routerKill.takeoverMs ?? 0);
    const ackedDuringTakeover = acks.filter(
      (a) => a.ackedAt >= routerKill.at && a.ackedAt <= takeoverAt,
    ).length;
    const ackTimes = acks.map((a) => a.ackedAt).sort((a, b) => a - b);
    let longestAckGapMs = 0;
    for (let i = 1; i < ackTimes.length; i++)
      longestAckGapMs = Math.max(longestAckGapMs, ackTimes[i] - ackTimes[i - 1]);
    const failed = [...load.failedAttempts];
    const failedOutsideKill = failed.filter(
      (f) => ![edgeKill, gatewayKill].some((k) => f.at >= k.at && f.at <= k.at + 5000),
    ).length;

    const { drained, reconciliation } = await drainAndReconcile({
      db,
      kafka,
      partitions,
      symbols,
      accountIds,
      acked: load.acked,
      sequencedFrom,
      gatewayUrl: GATEWAY_URL,
      runStartedAt,
      log,
    });

    log('restart: SCALE_OUT=1 npm run platform');
    const restartStarted = Date.now();
    await platform(['up'], { SCALE_OUT: '1' });
    const restartMs = Date.now() - restartStarted;
    const routerPartitionsRestarted = await routersOwning(
      2,
      'the restarted router sharing the partitions again',
    );
    const updatesAfterLastKill = subscriber.updatesSince(lastKill);
    const ok =
      reconciliation.ok &&
      drained.pending === 0 &&
      load.stats.conflictingAcks === 0 &&
      load.stats.abandoned === 0 &&
      failedOutsideKill === 0 &&
      kills.every((k) => k.acceptingMs !== null && k.tradesMs !== null) &&
      Object.values(updatesAfterLastKill).every((n) => n > 0) &&
      (!subscriberOnVictim || subscriber.reconnects > reconnectsBeforeGatewayKill);
    return {
      ok,
      runTag,
      symbols,
      load: load.stats,
      kills,
      failed,
      failedOutsideKill,
      longestAckGapMs,
      routerPartitionsBefore,
      routerPartitionsAfter,
      ackedDuringTakeover,
      subscriber: {
        onKilledGateway: subscriberOnVictim,
        reconnects: subscriber.reconnects,
        updatesAfterLastKill,
      },
      drain: drained,
      reconciliation,
      restartMs,
      routerPartitionsRestarted,
    };
  } finally {
    subscriber.stop();
    await load?.stop(0);
    await db.destroy().catch(() => undefined);
  }
}

/** The report as a few lines for a terminal or a failed test. */
export function summarizeScaleOut(r: ScaleOutReport): string {
  const s = (ms: number | null) => (ms === null ? 'NEVER' : `${(ms / 1000).toFixed(1)} s`);
  const causes: Record<string, number> = {};
  for (const f of r.failed) causes[f.cause] = (causes[f.cause] ?? 0) + 1;
  return [
    `scale-out drill ${r.runTag}: ${r.ok ? 'OK' : 'FAILED'} on ${r.symbols.join(', ')}`,
    `  orders: ${r.load.placements} placed, ${r.load.acknowledged} acknowledged, ${r.load.refused} refused ${JSON.stringify(r.load.refusedBy)}, ${r.load.abandoned} abandoned, ${r.load.retries} retries, conflicting acks ${r.load.conflictingAcks}`,
    `  failed attempts (all retried with the same clientOrderId): ${r.failed.length} ${JSON.stringify(causes)}, ${r.failedOutsideKill} outside the 5 s after the HAProxy and gateway kills; longest pause between acknowledgements ${r.longestAckGapMs} ms`,
    ...r.kills.map(
      (k) =>
        `  SIGKILL ${k.instance.padEnd(14)} orders accepted again after ${s(k.acceptingMs)}, trades of every symbol after ${s(k.tradesMs)}${k.takeoverMs === null ? '' : `, survivor owns every partition after ${s(k.takeoverMs)}`}`,
    ),
    `  router partitions: before ${JSON.stringify(r.routerPartitionsBefore)}, after the kill ${JSON.stringify(r.routerPartitionsAfter)}, after the restart ${JSON.stringify(r.routerPartitionsRestarted)}; ${r.ackedDuringTakeover} orders acknowledged between the router kill and the takeover`,
    `  subscriber (${r.subscriber.onKilledGateway ? 'on the killed gateway' : 'NOT on the killed gateway'}): ${r.subscriber.reconnects} reconnect(s), trade updates after the last kill ${JSON.stringify(r.subscriber.updatesAfterLastKill)}`,
    `  drain: ${r.drain.pending} pending after ${s(r.drain.waitedMs)}; restart of the killed instances ${s(r.restartMs)}`,
    `  trades ${r.reconciliation.trades}, ledger rows ${r.reconciliation.ledgerRows}, lost ${r.reconciliation.lost}, duplicated ${r.reconciliation.duplicated}`,
    ...r.reconciliation.checks.map(
      (c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${JSON.stringify(c.detail)}`,
    ),
  ].join('\n');
}
