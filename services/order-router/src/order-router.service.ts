import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import {
  isSameMoneyMovement,
  moneyLedgerKey,
  moneyLedgerKeys,
  orderCommandSchema,
  orderUpdateBatchSchema,
  sequencedCommandSchema,
  TOPICS,
  type OrderCommand,
  type MarketSpec,
  type OrderUpdate,
  type OrderUpdateBatch,
  type PlaceOrderCommand,
  type SequencedCommand,
} from '@trading/contracts';
import {
  BalancesRepository,
  ConsumerOffsetsRepository,
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
} from '@trading/db';
import {
  describeBatchRetry,
  CoPartitionAssigner,
  DeadLetterPublisher,
  decodeMessage,
  fetchOptions,
  partitionFor,
  retryBatch,
  type OutgoingRecord,
} from '@trading/kafka';
import {
  BATCH_SIZE_BUCKETS,
  consumerRetriesCounter,
  DB_DURATION_BUCKETS_SECONDS,
  MetricsRegistry,
  PIPELINE_DURATION_BUCKETS_SECONDS,
} from '@trading/metrics';
import {
  DatabaseService,
  isDatabaseOutage,
  KAFKA,
  MarketCatalogService,
  ProducerService,
  retryUntilConnected,
} from '@trading/nest-common';
import { AccountBook } from './account-book';
import { GroupCommitter } from './group-commit';
import { OpenOrders } from './open-orders';
import { checkMarketRules, type RouterRejectReason } from './market-rules';
import type { OrderRouterConfig } from './order-router.config';
import { applyOrderEvent } from './order-state';
import { OrderStreamPublisher, type OrderStreamUpdate } from './order-stream.publisher';
import {
  holdAssetOf,
  holdEntry,
  requiredHold,
  feeAccountFor,
  settleEvent,
  type LedgerEntry,
  type OrderMoney,
} from './settlement';

export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');
const COMMANDS = TOPICS.orderCommands.name;
const UPDATES = TOPICS.orderUpdates.name;

/** What one router partition knows: its accounts' balances and where each input stands. */
interface PartitionState {
  book: AccountBook;
  /** Its open orders as committed (read from the database on a miss). */
  orders: OpenOrders;
  /** Next offset to apply per topic, from the database. */
  next: Map<string, number>;
}

interface Outcome {
  ledger: LedgerEntry[];
  stream: Map<string, OrderStreamUpdate[]>;
  /** Orders whose accepted-order record goes too (besides the final ones in `stream`). */
  forget?: string[];
}

/**
 * The order lifecycle and the money, sharded by account. One consumer reads the per-account
 * commands and the per-account execution updates (co-partitioned: partition p of both topics
 * always belongs to the same member), keeps the partition's balances in memory, and commits every
 * batch's effects (orders, events, ledger, balances) together with the consumed offset in one
 * database transaction. Commands routed to matching carry their (partition, offset), so a batch
 * replayed after a crash is de-duplicated by the matching worker.
 */
@Injectable()
export class OrderRouterService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(OrderRouterService.name);
  private readonly consumer: Consumer;
  private readonly parts = new Map<number, PartitionState>();
  private readonly locks = new Map<number, Promise<void>>();
  private readonly orders: OrdersRepository;
  private readonly balances: BalancesRepository;
  private readonly offsets: ConsumerOffsetsRepository;
  private readonly outbox: RouterOutboxRepository;
  private readonly batches: RouterBatchRepository;
  /** Group commit lanes: partition p commits through lane p % lanes, one transaction in flight per lane. */
  private readonly committers: GroupCommitter<RouterBatch>[];
  private readonly deadLetters: DeadLetterPublisher;
  private readonly group: string;
  private readonly partitions: number;
  private readonly concurrency: number;
  private readonly openOrdersMax: number;
  private stopping = false;
  private readonly m;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(ROUTER_CONFIG) config: OrderRouterConfig,
    db: DatabaseService,
    private readonly markets: MarketCatalogService,
    private readonly stream: OrderStreamPublisher,
    private readonly producer: ProducerService,
    metrics: MetricsRegistry,
  ) {
    this.group = config.ORDER_ROUTER_GROUP_ID;
    this.partitions = config.KAFKA_PARTITIONS;
    this.concurrency = config.ORDER_ROUTER_CONCURRENCY;
    // Per partition; evicted ones are read again when needed.
    this.openOrdersMax = config.ORDER_ROUTER_OPEN_ORDERS_CACHED;
    this.orders = new OrdersRepository(db.dataSource);
    this.balances = new BalancesRepository(db.dataSource);
    this.offsets = new ConsumerOffsetsRepository(db.dataSource);
    this.outbox = new RouterOutboxRepository(db.dataSource);
    this.batches = new RouterBatchRepository(db.dataSource);
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
    this.consumer = kafka.consumer({
      groupId: this.group,
      partitionAssigners: [CoPartitionAssigner],
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 20_000,
      ...fetchOptions(config),
      allowAutoTopicCreation: false,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      // A partition that moved away may come back with state changed elsewhere: forget it all.
      this.parts.clear();
      this.logger.log(`assigned ${JSON.stringify(e.payload.memberAssignment)}`);
    });
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
      batch: metrics.histogram('router_batch_size', 'Records per partition batch', BATCH_SIZE_BUCKETS, [
        'topic',
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
      lag: metrics.gauge('kafka_consumer_lag_records', 'Records behind the high watermark', [
        'topic',
        'partition',
        'group',
      ]),
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
      dead: metrics.counter('kafka_dead_lettered_total', 'Records sent to the dead-letter topic', ['topic']),
      retries: consumerRetriesCounter(metrics),
    };
  }

  onModuleInit(): void {
    void retryUntilConnected(
      'order-router consumer',
      async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topics: [COMMANDS, UPDATES], fromBeginning: true });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.concurrency,
          // A failing batch (database or Redis down) is retried in place with a backoff: the
          // partition waits, its offset stays, and it resumes by itself when the dependency is back.
          eachBatch: (payload) =>
            this.withPartition(payload.batch.partition, () =>
              retryBatch(() => this.onBatch(payload), payload, {
                onRetry: (attempt, delay, err) => {
                  this.m.retries.inc({ topic: payload.batch.topic });
                  this.logger.warn(
                    describeBatchRetry(payload.batch.topic, payload.batch.partition, attempt, delay, err),
                  );
                },
              }),
            ),
        });
      },
      this.logger,
      () => this.stopping,
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch(() => undefined);
  }

  /** Batches of one partition (from either topic) run one at a time: they share its balances. */
  private async withPartition(p: number, fn: () => Promise<void>): Promise<void> {
    const prev = this.locks.get(p) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(p, tail);
    try {
      await run;
    } finally {
      if (this.locks.get(p) === tail) this.locks.delete(p);
    }
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const p = batch.partition;
    const topic = batch.topic;
    if (batch.messages.length === 0) return;
    let st = this.parts.get(p);
    if (!st) {
      // Whatever a previous owner committed but may not have sent goes out first (repeats are dropped downstream).
      await this.send(await this.outbox.pending(p));
      st = { book: new AccountBook(), orders: new OpenOrders(this.openOrdersMax), next: new Map() };
      this.parts.set(p, st);
    }
    if (!st.next.has(topic)) {
      // Once per ownership: start exactly where the database says this topic-partition stands.
      const stored = await this.offsets.load(this.group, topic, p);
      st.next.set(topic, stored ?? Number(batch.messages[0].offset));
      if (stored !== null && Number(batch.messages[0].offset) !== stored) {
        this.consumer.seek({ topic, partition: p, offset: String(stored) });
        return;
      }
    }
    // Offsets have gaps (transaction markers), so only "already applied" is checked from here on.
    const next = st.next.get(topic)!;
    const messages = [];
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      if (Number(m.offset) >= next) messages.push(m);
    }
    if (messages.length === 0) {
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      return;
    }
    const last = Number(messages[messages.length - 1].offset);
    await this.markets.ensureLoaded();
    try {
      const outcome =
        topic === COMMANDS ? await this.onCommands(p, st, messages) : await this.onUpdates(p, st, messages);
      st.next.set(topic, last + 1);
      resolveOffset(String(last));
      await heartbeat();
      await this.stream.publish(outcome.stream, outcome.forget);
      for (const e of outcome.ledger) this.m.ledger.inc({ kind: e.kind });
    } catch (err) {
      // The in-memory balances may be ahead of the database: reload them from it next time.
      this.parts.delete(p);
      throw err;
    }
    this.m.batch.observe({ topic }, messages.length);
    this.m.lag.set({ topic, partition: String(p), group: this.group }, Number(batch.offsetLag()));
  }

  private async decode<T>(
    p: number,
    topic: string,
    messages: EachBatchPayload['batch']['messages'],
    schema: Parameters<typeof decodeMessage<T>>[0],
  ) {
    const out: { offset: number; value: T }[] = [];
    for (const m of messages) {
      const d = decodeMessage(schema, m);
      if (d.ok) out.push({ offset: Number(m.offset), value: d.value });
      else {
        await this.deadLetters.deadLetter({
          topic,
          partition: p,
          offset: m.offset,
          key: m.key?.toString() ?? null,
          value: m.value?.toString() ?? null,
          reason: d.reason,
        });
        this.m.dead.inc({ topic });
      }
    }
    return out;
  }

  /** The orders a batch touches: the partition's open orders, the rest read from the database. */
  private async findStates(st: PartitionState, ids: Iterable<string>): Promise<Map<string, OrderStateRow>> {
    const { states, hits, loaded } = await st.orders.find(ids, (missing) => this.orders.findStates(missing));
    if (hits > 0) this.m.stateReads.inc({ source: 'memory' }, hits);
    if (loaded > 0) this.m.stateReads.inc({ source: 'database' }, loaded);
    return states;
  }

  private async ensureAccounts(book: AccountBook, accountIds: Iterable<string>): Promise<void> {
    const missing = [...new Set(accountIds)].filter((a) => !book.isLoaded(a));
    if (missing.length === 0) return;
    const rows = await this.balances.forAccounts(missing);
    for (const a of missing)
      book.load(
        a,
        rows.filter((r) => r.accountId === a),
      );
  }

  private async onCommands(
    p: number,
    st: PartitionState,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<Outcome> {
    const commands = await this.decode<OrderCommand>(p, COMMANDS, messages, orderCommandSchema);
    await this.ensureAccounts(
      st.book,
      commands.map((c) => c.value.accountId),
    );
    const targets = new Set(
      commands
        .filter((c) => c.value.kind === 'cancel' || c.value.kind === 'amend')
        .map((c) => (c.value as { orderId: string }).orderId),
    );
    const states = await this.findStates(st, targets);
    const coids = commands.flatMap((c) =>
      c.value.kind === 'place' && c.value.clientOrderId
        ? [{ accountId: c.value.accountId, clientOrderId: c.value.clientOrderId }]
        : [],
    );
    const takenCoids = await this.orders.findByClientOrderIds(coids);
    // A money command's id is its ledger key: the ledger skips an entry whose key it has, so a
    // command id posted before (in the database, or earlier in this batch) is never applied to the
    // balances in memory again, whatever its body says.
    const posted = await this.postedMoney(commands.map((c) => c.value));
    const appliedMoney: LedgerEntry[] = [];
    const reusedMoney: { offset: number; cmd: OrderCommand; reason: string }[] = [];

    const ledger: LedgerEntry[] = [];
    const newRows: NewOrderRow[] = [];
    const holdChanges: OrderStateRow[] = [];
    const routed: OutboxRow[] = [];
    const forget: string[] = [];
    const stream = new Map<string, OrderStreamUpdate[]>();
    const notify = (account: string, u: OrderStreamUpdate): void => {
      const list = stream.get(account) ?? [];
      list.push(u);
      stream.set(account, list);
    };
    const post = (entries: LedgerEntry[]): void => {
      st.book.apply(entries);
      ledger.push(...entries);
    };
    const routedAt = Date.now();
    const routedReceivedAt: number[] = [];
    const route = (
      c: { offset: number; value: OrderCommand },
      symbol: string,
      command: SequencedCommand['command'],
    ): void => {
      const record: OutgoingRecord<SequencedCommand> = {
        topic: TOPICS.ordersSequenced.name,
        key: symbol,
        schema: sequencedCommandSchema,
        value: {
          symbol,
          accountId: c.value.accountId,
          receivedAt: c.value.receivedAt,
          routedAt,
          command,
          source: { partition: p, offset: c.offset },
        },
      };
      const message = this.producer.producer.encode(record);
      routed.push({
        partition: p,
        offset: c.offset,
        topic: record.topic,
        key: symbol,
        payload: message.value as string,
      });
      this.m.routed.inc({ kind: c.value.kind });
      routedReceivedAt.push(c.value.receivedAt);
    };

    for (const c of commands) {
      const cmd = c.value;
      const ref = `cmd:${p}:${c.offset}`;
      if (cmd.kind === 'deposit' || cmd.kind === 'withdraw') {
        const type = cmd.kind === 'deposit' ? 'deposit' : 'withdrawal';
        const earlier = posted.get(cmd.commandId);
        if (earlier) {
          // The same movement again is acknowledged as applied; another body under its id is refused.
          const same = isSameMoneyMovement(earlier, cmd);
          this.m.money.inc({ kind: cmd.kind, outcome: same ? 'duplicate' : 'reused_id' });
          notify(cmd.accountId, {
            type,
            commandId: cmd.commandId,
            asset: cmd.asset,
            status: same ? 'applied' : 'rejected',
            reason: same ? null : 'IDEMPOTENCY_KEY_REUSED',
          });
          if (!same)
            reusedMoney.push({
              offset: c.offset,
              cmd,
              reason: `IDEMPOTENCY_KEY_REUSED: commandId ${cmd.commandId} was posted as ${earlier.key} of ${earlier.availableDelta} ${earlier.asset} for ${earlier.accountId}`,
            });
          continue;
        }
        const b = st.book.balance(cmd.accountId, cmd.asset);
        const amount = BigInt(cmd.amount);
        if (cmd.kind === 'withdraw' && b.available < amount) {
          this.m.money.inc({ kind: cmd.kind, outcome: 'rejected' });
          notify(cmd.accountId, {
            type: 'withdrawal',
            commandId: cmd.commandId,
            asset: cmd.asset,
            status: 'rejected',
            reason: 'INSUFFICIENT_FUNDS',
          });
          continue;
        }
        const sign = cmd.kind === 'deposit' ? 1n : -1n;
        const entry: LedgerEntry = {
          key: moneyLedgerKey(cmd.kind, cmd.commandId),
          accountId: cmd.accountId,
          asset: cmd.asset,
          availableDelta: sign * amount,
          heldDelta: 0n,
          kind: type,
          ref,
        };
        post([entry]);
        posted.set(cmd.commandId, entry);
        appliedMoney.push(entry);
        this.m.money.inc({ kind: cmd.kind, outcome: 'applied' });
        notify(cmd.accountId, {
          type,
          commandId: cmd.commandId,
          asset: cmd.asset,
          status: 'applied',
          reason: null,
        });
        continue;
      }
      if (cmd.kind === 'place') {
        const coidKey = cmd.clientOrderId ? `${cmd.accountId}\u0000${cmd.clientOrderId}` : null;
        // A retry of an order that exists (same clientOrderId, same order id): already handled.
        if (coidKey && takenCoids.get(coidKey) === cmd.orderId) {
          this.m.retried.inc();
          // The gateway wrote its record again; the stored order answers for it.
          forget.push(cmd.orderId);
          continue;
        }
        const market = this.markets.get(cmd.symbol) ?? (await this.markets.refresh(cmd.symbol));
        let reason: RouterRejectReason | null = checkMarketRules(cmd, market);
        if (!reason && coidKey && takenCoids.has(coidKey)) reason = 'DUPLICATE_CLIENT_ORDER_ID';
        let hold = 0n;
        let holdAsset: string | null = null;
        if (!reason && market) {
          holdAsset = holdAssetOf(cmd.side, market);
          const need = requiredHold(
            {
              side: cmd.side,
              orderType: cmd.orderType,
              price: cmd.price ?? null,
              protectionPrice: cmd.protectionPrice ?? null,
              quoteBudget: cmd.quoteBudget ?? null,
              makerFeeBps: market.makerFeeBps,
              takerFeeBps: market.takerFeeBps,
            },
            cmd.qty,
            market,
          );
          if (need === null) reason = 'MARKET_BUY_UNBOUNDED';
          else if (st.book.balance(cmd.accountId, holdAsset).available < need) reason = 'INSUFFICIENT_FUNDS';
          else hold = need;
        }
        if (reason === 'DUPLICATE_CLIENT_ORDER_ID') {
          // The first order with this clientOrderId stands; this one never existed.
          this.m.rejected.inc({ reason });
          notify(cmd.accountId, orderUpdate(cmd, 'rejected', reason));
          continue;
        }
        if (coidKey) takenCoids.set(coidKey, cmd.orderId);
        const row = toRow(cmd, reason, holdAsset, hold, market);
        newRows.push(row);
        // A cancel or amend right behind its placement (same account, same partition) may be in
        // this very batch, before the order is in the database.
        if (!reason && targets.has(row.orderId)) states.set(row.orderId, stateOfNew(row));
        if (reason) {
          this.m.rejected.inc({ reason });
          notify(cmd.accountId, orderUpdate(cmd, 'rejected', reason));
          continue;
        }
        if (hold > 0n) post([holdEntry(cmd.accountId, holdAsset!, hold, cmd.orderId, ref)]);
        route(c, cmd.symbol, placeToEngine(cmd));
        continue;
      }
      const order = states.get(cmd.orderId);
      // Only the owner may touch an order (the gateway checked too).
      if (!order || order.accountId !== cmd.accountId || order.symbol !== cmd.symbol) {
        this.m.rejected.inc({ reason: 'UNKNOWN_ORDER' });
        continue;
      }
      if (cmd.kind === 'cancel') {
        route(c, cmd.symbol, { type: 'cancel', orderId: cmd.orderId });
        continue;
      }
      // Amend: hold more first if the new price or size can cost more; excess is released on the Amended event.
      const market = this.markets.get(order.symbol) ?? (await this.markets.require(order.symbol));
      if (order.holdAsset) {
        const remaining = (cmd.qty ?? order.qty) - order.filledQty;
        const need = requiredHold({ ...order, price: cmd.price ?? order.price }, remaining, market) ?? 0n;
        const extra = need - order.holdRemaining;
        if (extra > 0n) {
          if (st.book.balance(order.accountId, order.holdAsset).available < extra) {
            this.m.rejected.inc({ reason: 'INSUFFICIENT_FUNDS' });
            notify(cmd.accountId, {
              type: 'order',
              orderId: order.orderId,
              symbol: order.symbol,
              status: order.status,
              reason: 'AMEND_INSUFFICIENT_FUNDS',
              event: 'amend_rejected',
            });
            continue;
          }
          post([holdEntry(order.accountId, order.holdAsset, extra, order.orderId, ref)]);
          order.holdRemaining += extra;
          holdChanges.push(order);
        }
      }
      route(c, cmd.symbol, { type: 'amend', orderId: cmd.orderId, price: cmd.price, qty: cmd.qty });
    }

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
          outbox: { partition: p, pruneBefore: Number(messages[0].offset), rows: routed },
          offset,
        },
      }),
      p,
      messages,
      { orders: newRows.length, ledger: ledger.length },
    );
    st.orders.committed(newRows.map((r) => states.get(r.orderId) ?? stateOfNew(r)));
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
      this.m.dead.inc({ topic: COMMANDS });
    }
    if (appliedMoney.length > 0) await this.checkMoneyPosted(p, appliedMoney);
    const sentAt = Date.now();
    for (const at of routedReceivedAt) this.m.routedLatency.observe((sentAt - at) / 1000);
    return { ledger, stream, forget };
  }

  /** Money command ids already in the ledger, by command id (one lookup per batch that has any). */
  private async postedMoney(commands: OrderCommand[]): Promise<Map<string, LedgerRow>> {
    const ids = new Set<string>();
    for (const c of commands) if (c.kind === 'deposit' || c.kind === 'withdraw') ids.add(c.commandId);
    const posted = new Map<string, LedgerRow>();
    if (ids.size === 0) return posted;
    for (const e of await this.balances.findEntries([...ids].flatMap(moneyLedgerKeys)))
      posted.set(e.key.slice(e.key.indexOf(':') + 1), e);
    return posted;
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
    p: number,
    st: PartitionState,
    messages: EachBatchPayload['batch']['messages'],
  ): Promise<Outcome> {
    // A record holds the updates of one matching transaction for this partition in engine order,
    // and records come in offset order: flattened, they are in the order of one record each.
    const updates: { value: OrderUpdate }[] = [];
    for (const r of await this.decode<OrderUpdateBatch>(p, UPDATES, messages, orderUpdateBatchSchema))
      for (const value of r.value.updates) updates.push({ value });
    await this.ensureAccounts(
      st.book,
      updates.map((u) => u.value.accountId),
    );
    const states = await this.findStates(
      st,
      updates.map((u) => u.value.orderId),
    );
    const ledger: LedgerEntry[] = [];
    const changed = new Map<string, OrderStateRow>();
    const events: OrderEventRow[] = [];
    for (const { value: u } of updates) {
      events.push({
        symbol: u.symbol,
        seq: u.seq,
        orderId: u.orderId,
        accountId: u.accountId,
        type: u.event.type,
        payload: u.event,
        emittedAt: u.emittedAt,
      });
      const order = states.get(u.orderId);
      if (!order) {
        this.logger.error(`update for unknown order ${u.orderId} (${u.symbol} seq ${u.seq})`);
        continue;
      }
      const money: OrderMoney = {
        orderId: order.orderId,
        accountId: order.accountId,
        side: order.side,
        orderType: order.orderType,
        price: order.price,
        protectionPrice: order.protectionPrice,
        quoteBudget: order.quoteBudget,
        remaining: order.qty - order.filledQty,
        holdAsset: order.holdAsset ?? '',
        holdRemaining: order.holdRemaining,
        makerFeeBps: order.makerFeeBps,
        takerFeeBps: order.takerFeeBps,
      };
      if (!applyOrderEvent(order, u.orderId, u.event)) continue;
      // Never settle without the market: an unreadable catalog fails the batch, which is retried.
      const market = this.markets.get(u.symbol) ?? (await this.markets.require(u.symbol));
      if (order.holdAsset) {
        const entries = settleEvent(money, u.event, u.symbol, market, feeAccountFor(p));
        st.book.apply(entries);
        ledger.push(...entries);
        order.holdRemaining = money.holdRemaining;
      }
      changed.set(u.orderId, order);
    }
    await this.commitBatch(
      UPDATES,
      (offset) => ({ kind: 'updates', batch: { events, states: [...changed.values()], ledger, offset } }),
      p,
      messages,
      { order_events: events.length, ledger: ledger.length },
    );
    st.orders.committed(changed.values());
    this.m.updates.observe(updates.length);
    const now = Date.now();
    for (const { value: u } of updates) this.m.persisted.observe((now - u.receivedAt) / 1000);
    const stream = new Map<string, OrderStreamUpdate[]>();
    for (const o of changed.values()) {
      const list = stream.get(o.accountId) ?? [];
      list.push({
        type: 'order',
        orderId: o.orderId,
        symbol: o.symbol,
        status: o.status,
        reason: o.reason,
        filledQty: o.filledQty,
        qty: o.qty,
        lastSeq: o.lastSeq,
      });
      stream.set(o.accountId, list);
    }
    return { ledger, stream };
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
    p: number,
    messages: EachBatchPayload['batch']['messages'],
    rows: Record<string, number>,
  ): Promise<void> {
    const last = Number(messages[messages.length - 1].offset);
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

function orderUpdate(cmd: PlaceOrderCommand, status: string, reason: string): OrderStreamUpdate {
  return {
    type: 'order',
    orderId: cmd.orderId,
    symbol: cmd.symbol,
    status,
    reason,
    filledQty: 0,
    qty: cmd.qty,
    lastSeq: 0,
  };
}

function toRow(
  cmd: PlaceOrderCommand,
  reason: RouterRejectReason | null,
  holdAsset: string | null,
  hold: bigint,
  market: MarketSpec | undefined,
): NewOrderRow {
  return {
    orderId: cmd.orderId,
    accountId: cmd.accountId,
    symbol: cmd.symbol,
    clientOrderId: cmd.clientOrderId ?? null,
    side: cmd.side,
    orderType: cmd.orderType,
    tif: cmd.tif,
    postOnly: cmd.postOnly,
    price: cmd.price ?? null,
    stopPrice: cmd.stopPrice ?? null,
    displayQty: cmd.displayQty ?? null,
    qty: cmd.qty,
    status: reason ? 'rejected' : 'pending',
    reason,
    receivedAt: cmd.receivedAt,
    protectionPrice: cmd.protectionPrice ?? null,
    quoteBudget: cmd.quoteBudget ?? null,
    holdAsset,
    holdRemaining: hold,
    makerFeeBps: market?.makerFeeBps ?? 0,
    takerFeeBps: market?.takerFeeBps ?? 0,
  };
}

function placeToEngine(cmd: PlaceOrderCommand): SequencedCommand['command'] {
  return {
    type: 'new',
    orderId: cmd.orderId,
    accountId: cmd.accountId,
    side: cmd.side,
    orderType: cmd.orderType,
    qty: cmd.qty,
    price: cmd.price,
    tif: cmd.tif,
    postOnly: cmd.postOnly || undefined,
    displayQty: cmd.displayQty,
    stopPrice: cmd.stopPrice,
    protectionPrice: cmd.protectionPrice,
    quoteBudget: cmd.quoteBudget,
    stp: cmd.stp,
  };
}

/** The state of an order placed in the batch being processed, as findStates would read it. */
function stateOfNew(row: NewOrderRow): OrderStateRow {
  return {
    orderId: row.orderId,
    accountId: row.accountId,
    symbol: row.symbol,
    side: row.side,
    orderType: row.orderType as OrderStateRow['orderType'],
    price: row.price,
    protectionPrice: row.protectionPrice,
    quoteBudget: row.quoteBudget,
    qty: row.qty,
    filledQty: 0,
    filledNotional: 0n,
    status: row.status,
    reason: row.reason,
    lastSeq: 0,
    holdAsset: row.holdAsset,
    holdRemaining: row.holdRemaining,
    makerFeeBps: row.makerFeeBps,
    takerFeeBps: row.takerFeeBps,
  };
}
