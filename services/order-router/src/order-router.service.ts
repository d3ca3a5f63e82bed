import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  moneyLedgerKeys,
  sequencedCommandSchema,
  TOPICS,
  type OrderCommand,
  type OrderUpdate,
  type OrderUpdateBatch,
  type SequencedCommand,
} from '@trading/contracts';
import {
  AccountStreamRepository,
  BalancesRepository,
  OrdersRepository,
  RouterBatchRepository,
  RouterOutboxRepository,
  type BatchOffset,
  type OutboxRow,
  type RouterBatch,
  type NewOrderRow,
  type OrderEventRow,
  type OrderStateRow,
  type LedgerRow,
  type StreamBatch,
  type AmendsInFlight,
} from '@trading/db';
import {
  DeadLetterPublisher,
  partitionFor,
  type ConsumedRecord,
  type ConsumerMetrics,
  type OutgoingRecord,
  type PartitionBatchContext,
} from '@trading/kafka';
import {
  BATCH_SIZE_BUCKETS,
  DB_DURATION_BUCKETS_SECONDS,
  MetricsRegistry,
  PIPELINE_DURATION_BUCKETS_SECONDS,
} from '@trading/metrics';
import { isDatabaseOutage, MarketCatalogService, ProducerService } from '@trading/nest-common';
import {
  AccountSequencer,
  orderStreamOf,
  RiskEngine,
  type AccountEvent,
  type Decision,
  type LedgerEntry,
  type PendingAmend,
  type RiskOrder,
  type RiskResult,
  type RoutedCommand,
  type StreamUpdate,
} from '@trading/risk-engine';
import { GroupCommitter } from './group-commit';
import { OpenOrders } from './open-orders';
import type { OrderRouterConfig } from './order-router.config';
import { OrderStreamPublisher, type OrderStreamUpdate } from './order-stream.publisher';

export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');
/** The consumer metrics (batch size, lag, dead letters, retries), shared with the transport. */
export const ROUTER_CONSUMER_METRICS = Symbol('ROUTER_CONSUMER_METRICS');
export const COMMANDS = TOPICS.orderCommands.name;
export const UPDATES = TOPICS.orderUpdates.name;
export const ACCOUNT_EVENTS = TOPICS.accountEvents.name;

/** What one router partition knows: its risk engine and where each input stands. */
interface PartitionState {
  /** Its accounts' balances and open orders (loaded from the database on first touch); every decision. */
  engine: RiskEngine;
  /** Which of the engine's orders stay between batches. */
  orders: OpenOrders;
  /** Each loaded account's own-orders stream seq (ADR 0014). */
  seqs: AccountSequencer;
}

interface Outcome {
  ledger: LedgerEntry[];
  stream: Map<string, OrderStreamUpdate[]>;
  /** The batch's numbered stream records, committed with it, produced to account.events.v1 after. */
  events: AccountEvent[];
  /** Orders whose accepted-order record goes too (besides the final ones in `stream`). */
  forget?: string[];
}

/**
 * The order lifecycle and the money, sharded by account: the I/O around one risk engine per
 * partition (libs/risk-engine), which makes every decision. OrderRouterController hands it the
 * partition batches of the per-account commands and the per-account execution updates
 * (co-partitioned: partition p of both topics always belongs to the same member, and the
 * ROUTER_CONSUMER transport runs one batch of a partition at a time). It gives the engine what it
 * needs from the database, applies each input, and commits what the engine returned (orders,
 * events, ledger, balances, routed commands) together with the consumed offset in one database
 * transaction (the transport seeks to that stored offset on assignment). Commands routed to
 * matching carry their (partition, offset), so a batch replayed after a crash is de-duplicated by
 * the matching worker.
 */
@Injectable()
export class OrderRouterService {
  private readonly logger = new Logger(OrderRouterService.name);
  private readonly parts = new Map<number, PartitionState>();
  /** Group commit lanes: partition p commits through lane p % lanes, one transaction in flight per lane. */
  private readonly committers: GroupCommitter<RouterBatch>[];
  private readonly deadLetters: DeadLetterPublisher;
  private readonly group: string;
  private readonly partitions: number;
  private readonly openOrdersMax: number;
  private readonly m;

  constructor(
    @Inject(ROUTER_CONFIG) config: OrderRouterConfig,
    private readonly orders: OrdersRepository,
    private readonly balances: BalancesRepository,
    private readonly outbox: RouterOutboxRepository,
    private readonly batches: RouterBatchRepository,
    private readonly accountStream: AccountStreamRepository,
    private readonly markets: MarketCatalogService,
    private readonly stream: OrderStreamPublisher,
    private readonly producer: ProducerService,
    metrics: MetricsRegistry,
    @Inject(ROUTER_CONSUMER_METRICS) private readonly consumerMetrics: ConsumerMetrics,
  ) {
    this.group = config.ORDER_ROUTER_GROUP_ID;
    this.partitions = config.KAFKA_PARTITIONS;
    // Per partition; evicted ones are read again when needed.
    this.openOrdersMax = config.ORDER_ROUTER_OPEN_ORDERS_CACHED;
    this.deadLetters = new DeadLetterPublisher(producer.producer, this.group);
    this.committers = Array.from(
      { length: config.ORDER_ROUTER_COMMIT_LANES },
      () =>
        new GroupCommitter<RouterBatch>(
          (group) => this.batches.commitGroup(group),
          (one) => this.batches.commit(one),
          {
            maxGroup: config.ORDER_ROUTER_GROUP_COMMIT_MAX,
            // A batch refused on its data fails alone; a database that is down fails them all.
            isolate: (err) => !isDatabaseOutage(err),
            observe: (n) => this.m.groupCommit.observe(n),
          },
        ),
    );
    this.m = {
      routed: metrics.counter('router_commands_routed_total', 'Commands routed to matching', ['kind']),
      rejected: metrics.counter('orders_rejected_total', 'Orders refused before matching, by reason', [
        'reason',
      ]),
      retried: metrics.counter(
        'router_place_retries_total',
        'Placements dropped as retries of an existing order (same clientOrderId and order id)',
      ),
      money: metrics.counter('router_money_commands_total', 'Deposits and withdrawals by outcome', [
        'kind',
        'outcome',
      ]),
      updates: metrics.histogram(
        'router_order_updates_per_batch',
        'Order updates per partition batch of orders.updates.v2 (the records unpacked)',
        BATCH_SIZE_BUCKETS,
      ),
      db: metrics.histogram(
        'db_write_duration_seconds',
        'Batched database write time',
        DB_DURATION_BUCKETS_SECONDS,
        ['table'],
      ),
      dbRows: metrics.histogram(
        'db_write_batch_size',
        'Rows per batched database write',
        BATCH_SIZE_BUCKETS,
        ['table'],
      ),
      stateReads: metrics.counter(
        'router_order_state_lookups_total',
        'Orders looked up by batches, by where they were found (memory, or read from the database)',
        ['source'],
      ),
      groupCommit: metrics.histogram(
        'router_group_commit_batches',
        'Consumed batches (of different partitions) written in one database transaction',
        BATCH_SIZE_BUCKETS,
      ),
      dbErrors: metrics.counter('db_write_errors_total', 'Failed batched database writes', ['table']),
      ledger: metrics.counter('ledger_entries_total', 'Ledger entries posted', ['kind']),
      routedLatency: metrics.histogram(
        'pipeline_command_routed_seconds',
        'Gateway receipt to the command stored and acknowledged on orders.sequenced.v1',
        PIPELINE_DURATION_BUCKETS_SECONDS,
      ),
      persisted: metrics.histogram(
        'pipeline_order_state_persisted_seconds',
        'Gateway receipt to order state persisted',
        PIPELINE_DURATION_BUCKETS_SECONDS,
      ),
    };
  }

  /** A group join: a partition that moved away may come back with state changed elsewhere, so all is forgotten. */
  assigned(assignment: Record<string, number[]>): void {
    this.parts.clear();
    this.logger.log(`assigned ${JSON.stringify(assignment)}`);
    // Stream records a previous owner committed but may not have sent reach the clients now,
    // not only when the partition's next input comes (its first batch sends them again: a repeat
    // is dropped by seq).
    void this.flushStreamOutboxes(assignment[COMMANDS] ?? []);
  }

  private async flushStreamOutboxes(partitions: number[]): Promise<void> {
    try {
      for (const p of partitions)
        for (const records of await this.accountStream.pending(p))
          await this.sendEvents(JSON.parse(records) as AccountEvent[]);
    } catch (err) {
      this.logger.warn(`stream outbox not flushed on assignment: ${(err as Error).message}`);
    }
  }

  /** One partition batch of orders.commands.v1 (valid records, in offset order). Throwing retries it. */
  commands(records: ConsumedRecord<OrderCommand>[], ctx: PartitionBatchContext): Promise<void> {
    return this.onBatch(ctx, (st) => this.onCommands(ctx, st, records));
  }

  /** One partition batch of orders.updates.v2 (valid records, in offset order). Throwing retries it. */
  updates(records: ConsumedRecord<OrderUpdateBatch>[], ctx: PartitionBatchContext): Promise<void> {
    return this.onBatch(ctx, (st) => this.onUpdates(ctx, st, records));
  }

  private async onBatch(
    ctx: PartitionBatchContext,
    apply: (st: PartitionState) => Promise<Outcome>,
  ): Promise<void> {
    const p = ctx.partition;
    let st = this.parts.get(p);
    if (!st) {
      // Whatever a previous owner committed but may not have sent goes out first (repeats are dropped downstream).
      await this.send(await this.outbox.pending(p));
      for (const records of await this.accountStream.pending(p))
        await this.sendEvents(JSON.parse(records) as AccountEvent[]);
      const engine = new RiskEngine(p);
      st = { engine, orders: new OpenOrders(engine, this.openOrdersMax), seqs: new AccountSequencer() };
      this.parts.set(p, st);
    }
    await this.markets.ensureLoaded();
    try {
      const outcome = await apply(st);
      await ctx.heartbeat();
      // The accepted-order records of final orders go first: a client that saw an order's final
      // update gets 409 for a cancel of it.
      await this.stream.publish(outcome.stream, outcome.forget);
      // At least once: a crash before this leaves the records in the outbox, sent by whoever
      // takes the partition next (above), before anything newer of it.
      await this.sendEvents(outcome.events);
      for (const e of outcome.ledger) this.m.ledger.inc({ kind: e.kind });
    } catch (err) {
      // The in-memory balances may be ahead of the database: reload them from it next time
      // (the transport reads the stored offsets again too).
      this.parts.delete(p);
      throw err;
    }
  }

  /**
   * What the engine needs before a batch, from the database: the balances of accounts it has not
   * loaded, the orders the batch touches that it does not hold, and the markets as the catalog has
   * them (one it lacks is dropped: placements in it are refused, anything else fails the batch).
   */
  private async prepare(
    st: PartitionState,
    inputs: { accountId: string; orderId?: string; symbol?: string }[],
  ): Promise<void> {
    const engine = st.engine;
    const accounts = [...new Set(inputs.map((i) => i.accountId))].filter((a) => !engine.isLoaded(a));
    if (accounts.length > 0) {
      const rows = await this.balances.forAccounts(accounts);
      for (const a of accounts)
        engine.loadAccount(
          a,
          rows.filter((r) => r.accountId === a),
        );
    }
    const unsequenced = [...new Set(inputs.map((i) => i.accountId))].filter((a) => !st.seqs.isLoaded(a));
    if (unsequenced.length > 0)
      for (const [a, seq] of await this.accountStream.seqs(unsequenced)) st.seqs.load(a, seq);
    const { hits, loaded } = await st.orders.load(
      inputs.flatMap((i) => (i.orderId === undefined ? [] : [i.orderId])),
      async (missing) => {
        const states = await this.orders.findStates(missing);
        // What their amends still in flight hold stays held (the engine keeps its own if it has them).
        engine.loadAmends(await this.orders.findAmendsInFlight([...states.keys()]));
        return states;
      },
    );
    if (hits > 0) this.m.stateReads.inc({ source: 'memory' }, hits);
    if (loaded > 0) this.m.stateReads.inc({ source: 'database' }, loaded);
    for (const symbol of new Set(inputs.flatMap((i) => (i.symbol === undefined ? [] : [i.symbol])))) {
      const market = this.markets.get(symbol) ?? (await this.markets.refresh(symbol));
      if (market) engine.setMarket(market);
      else engine.dropMarket(symbol);
    }
  }

  private async onCommands(
    ctx: PartitionBatchContext,
    st: PartitionState,
    records: ConsumedRecord<OrderCommand>[],
  ): Promise<Outcome> {
    const p = ctx.partition;
    const commands = records.map((r) => ({ offset: Number(r.offset), value: r.value }));
    const engine = st.engine;
    // Only cancels and amends look their orders up; a placement's id is new.
    await this.prepare(
      st,
      commands.map(({ value: c }) => ({
        accountId: c.accountId,
        orderId: c.kind === 'cancel' || c.kind === 'amend' ? c.orderId : undefined,
        symbol: 'symbol' in c ? c.symbol : undefined,
      })),
    );
    // Idempotency as the database has it, before every batch (the engine remembers this batch's own).
    engine.forgetKnownIds();
    engine.knowClientOrderIds(
      await this.orders.findByClientOrderIds(
        commands.flatMap(({ value: c }) =>
          c.kind === 'place' && c.clientOrderId
            ? [{ accountId: c.accountId, clientOrderId: c.clientOrderId }]
            : [],
        ),
      ),
    );
    // A money command's id is its ledger key: the ledger skips an entry whose key it has, so a
    // command id posted before (in the database, or earlier in this batch) is never applied to the
    // balances in memory again, whatever its body says.
    engine.knowMoney(await this.postedMoney(commands.map((c) => c.value)));

    const ledger: LedgerEntry[] = [];
    const newRows: NewOrderRow[] = [];
    const holdChanges: OrderStateRow[] = [];
    const routed: OutboxRow[] = [];
    const routedReceivedAt: number[] = [];
    const forget: string[] = [];
    const stream: { accountId: string; update: StreamUpdate }[] = [];
    const amends = new AmendsInFlightOf();
    const appliedMoney: LedgerEntry[] = [];
    const reusedMoney: { offset: number; cmd: OrderCommand; reason: string }[] = [];
    const at = Date.now();
    for (const c of commands) {
      const r = engine.apply({ offset: c.offset, at, command: c.value });
      this.count(r.decision);
      ledger.push(...r.ledger);
      newRows.push(...r.newOrders);
      holdChanges.push(...r.changedOrders);
      stream.push(...r.stream);
      forget.push(...r.forget);
      amends.add(r.amends);
      for (const x of r.routed) {
        routed.push(this.toOutbox(x));
        this.m.routed.inc({ kind: c.value.kind });
        routedReceivedAt.push(x.receivedAt);
      }
      if (r.decision.input === 'deposit' || r.decision.input === 'withdraw') {
        if (r.decision.outcome === 'applied') appliedMoney.push(...r.ledger);
        if (r.decision.outcome === 'reused_id')
          reusedMoney.push({ offset: c.offset, cmd: c.value, reason: r.decision.deadLetter });
      }
    }

    const { events, batch: streamBatch } = this.numberStream(st, p, stream, ledger);
    // Decisions, money and the outbox commit together; only then does matching get the commands,
    // so an execution update can never arrive before its order. Earlier batches were sent already.
    await this.commitBatch(
      COMMANDS,
      (offset) => ({
        kind: 'commands',
        batch: {
          orders: newRows,
          states: holdChanges,
          ledger,
          outbox: { partition: p, pruneBefore: Number(ctx.startOffset), rows: routed },
          offset,
          stream: streamBatch,
          amends: amends.batch(),
        },
      }),
      ctx,
      { orders: newRows.length, ledger: ledger.length },
    );
    st.orders.committed(newRows.map((r) => r.orderId));
    await this.send(routed);
    for (const r of reusedMoney) {
      await this.deadLetters.deadLetter({
        topic: COMMANDS,
        partition: p,
        offset: String(r.offset),
        key: r.cmd.accountId,
        value: JSON.stringify(r.cmd),
        reason: r.reason,
      });
      this.consumerMetrics.deadLettered(COMMANDS, 'reused_id');
    }
    if (appliedMoney.length > 0) await this.checkMoneyPosted(p, appliedMoney);
    const sentAt = Date.now();
    for (const received of routedReceivedAt) this.m.routedLatency.observe((sentAt - received) / 1000);
    return { ledger, stream: byAccount(stream), forget, events };
  }

  /** The metrics of one decision of the engine. */
  private count(d: Decision): void {
    if (d.input === 'deposit' || d.input === 'withdraw')
      this.m.money.inc({ kind: d.input, outcome: d.outcome });
    else if ('reason' in d) this.m.rejected.inc({ reason: d.reason });
    else if (d.outcome === 'retried') this.m.retried.inc();
  }

  /** A command for matching as its outbox row: encoded (and validated) once, sent after the commit. */
  private toOutbox(r: RoutedCommand): OutboxRow {
    const record: OutgoingRecord<SequencedCommand> = {
      topic: TOPICS.ordersSequenced.name,
      key: r.symbol,
      schema: sequencedCommandSchema,
      value: r,
    };
    const message = this.producer.producer.encode(record);
    return {
      partition: r.source.partition,
      offset: r.source.offset,
      topic: record.topic,
      key: r.symbol,
      payload: message.value as string,
    };
  }

  /** The ledger entries of the batch's money command ids, if any were posted (one lookup per batch that has any). */
  private async postedMoney(commands: OrderCommand[]): Promise<LedgerRow[]> {
    const ids = new Set<string>();
    for (const c of commands) if (c.kind === 'deposit' || c.kind === 'withdraw') ids.add(c.commandId);
    if (ids.size === 0) return [];
    return this.balances.findEntries([...ids].flatMap(moneyLedgerKeys));
  }

  /**
   * The money entries this batch posted must be in the ledger as this batch's (same ref). One the
   * ledger skipped (the same command id committed meanwhile by another partition's batch, for
   * another account) was applied in memory only: the partition's balances are read again from
   * the database before its next batch.
   */
  private async checkMoneyPosted(p: number, entries: LedgerEntry[]): Promise<void> {
    let skipped: LedgerEntry[];
    try {
      const stored = new Map(
        (await this.balances.findEntries(entries.map((e) => e.key))).map((e) => [e.key, e.ref]),
      );
      skipped = entries.filter((e) => stored.get(e.key) !== e.ref);
    } catch (err) {
      this.logger.warn(
        `partition ${p}: money entries not verified (${(err as Error).message}); reloading balances`,
      );
      this.parts.delete(p);
      return;
    }
    if (skipped.length === 0) return;
    this.logger.error(
      `partition ${p}: the ledger skipped ${skipped.map((e) => e.key).join(', ')} (posted by another command); reloading balances`,
    );
    this.parts.delete(p);
  }

  private async onUpdates(
    ctx: PartitionBatchContext,
    st: PartitionState,
    records: ConsumedRecord<OrderUpdateBatch>[],
  ): Promise<Outcome> {
    // A record holds the updates of one matching transaction for this partition in engine order,
    // and records come in offset order: flattened, they are in the order of one record each.
    const updates: OrderUpdate[] = [];
    for (const r of records) updates.push(...r.value.updates);
    await this.prepare(st, updates);
    const ledger: LedgerEntry[] = [];
    const changed = new Map<string, RiskOrder>();
    const events: OrderEventRow[] = [];
    const amends = new AmendsInFlightOf();
    for (const u of updates) {
      const r = st.engine.apply({ update: u });
      events.push(...r.events);
      amends.add(r.amends);
      ledger.push(...r.ledger);
      for (const o of r.changedOrders) changed.set(o.orderId, o);
      if (r.decision.outcome === 'unknown_order')
        this.logger.error(`update for unknown order ${u.orderId} (${u.symbol} seq ${u.seq})`);
    }
    const stream = orderStreamOf(changed.values());
    const numbered = this.numberStream(st, ctx.partition, stream, ledger);
    await this.commitBatch(
      UPDATES,
      (offset) => ({
        kind: 'updates',
        batch: {
          events,
          states: [...changed.values()],
          ledger,
          offset,
          stream: numbered.batch,
          amends: amends.batch(),
        },
      }),
      ctx,
      { order_events: events.length, ledger: ledger.length },
    );
    st.orders.committed();
    this.m.updates.observe(updates.length);
    const now = Date.now();
    for (const u of updates) this.m.persisted.observe((now - u.receivedAt) / 1000);
    return { ledger, stream: byAccount(stream), events: numbered.events };
  }

  /**
   * The batch's stream records: its order and money updates, then the balances its ledger entries
   * moved (as they stand after the batch), numbered per account; with what the commit writes.
   */
  private numberStream(
    st: PartitionState,
    p: number,
    updates: { accountId: string; update: StreamUpdate }[],
    ledger: LedgerEntry[],
  ): { events: AccountEvent[]; batch: StreamBatch } {
    const touched = new Map<string, { accountId: string; asset: string }>();
    for (const e of ledger)
      if (st.engine.isLoaded(e.accountId) && st.seqs.isLoaded(e.accountId))
        touched.set(`${e.accountId}\u0000${e.asset}`, { accountId: e.accountId, asset: e.asset });
    const balances = [...touched.values()].map(({ accountId, asset }) => ({
      accountId,
      asset,
      ...st.engine.balance(accountId, asset),
    }));
    const { events, last } = st.seqs.number(updates, balances);
    return {
      events,
      batch: { partition: p, records: events.length ? JSON.stringify(events) : null, seqs: [...last] },
    };
  }

  /** Stream records to account.events.v1, keyed by account, in order. */
  private async sendEvents(events: AccountEvent[]): Promise<void> {
    await Promise.all(
      events.map((e) =>
        this.producer.producer.sendEncoded(ACCOUNT_EVENTS, {
          key: e.accountId,
          value: JSON.stringify(e),
          partition: partitionFor(e.accountId, this.partitions),
        }),
      ),
    );
  }

  private async send(rows: OutboxRow[]): Promise<void> {
    await Promise.all(
      rows.map((r) =>
        this.producer.producer.sendEncoded(r.topic, {
          key: r.key,
          value: r.payload,
          partition: partitionFor(r.key, this.partitions),
        }),
      ),
    );
  }

  /**
   * Everything the batch changed, plus the position after it, atomically: through the partition's
   * group-commit lane, alone or with other partitions' batches.
   */
  private async commitBatch(
    topic: string,
    batch: (offset: BatchOffset) => RouterBatch,
    ctx: PartitionBatchContext,
    rows: Record<string, number>,
  ): Promise<void> {
    const p = ctx.partition;
    const last = Number(ctx.lastOffset);
    const started = process.hrtime.bigint();
    try {
      await this.committers[p % this.committers.length].submit(
        batch({ groupId: this.group, topic, partition: p, nextOffset: last + 1 }),
      );
    } catch (err) {
      this.m.dbErrors.inc({ table: topic === COMMANDS ? 'orders' : 'order_events' });
      throw err;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const [table, n] of Object.entries(rows)) {
      this.m.db.observe({ table }, seconds);
      this.m.dbRows.observe({ table }, n);
    }
  }
}

/** Stream updates grouped by account, each account's in order. */
function byAccount(updates: { accountId: string; update: StreamUpdate }[]): Map<string, OrderStreamUpdate[]> {
  const out = new Map<string, OrderStreamUpdate[]>();
  for (const { accountId, update } of updates) {
    const list = out.get(accountId) ?? [];
    list.push(update);
    out.set(accountId, list);
  }
  return out;
}

/** A batch's amends in flight by order, as the engine last reported them (RiskResult.amends). */
class AmendsInFlightOf {
  private readonly last = new Map<string, PendingAmend[]>();

  add(reported: RiskResult['amends']): void {
    for (const [id, list] of reported) this.last.set(id, list);
  }

  /** For the commit: the JSON list, or null when none is left. */
  batch(): AmendsInFlight {
    return [...this.last].map(([id, list]) => [id, list.length > 0 ? JSON.stringify(list) : null]);
  }
}
