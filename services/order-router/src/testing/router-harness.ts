import type { EachBatchPayload, Kafka, KafkaMessage, Message } from 'kafkajs';
import type { z } from 'zod';
import {
  orderCommandSchema,
  orderUpdateBatchSchema,
  placeOrderCommandSchema,
  sampleMarketSpec,
  TOPICS,
  type MarketSpec,
  type PlaceOrderCommand,
} from '@trading/contracts';
import type {
  AccountStreamRepository,
  BalanceRow,
  BalancesRepository,
  LedgerRow,
  OrdersRepository,
  OrderStateRow,
  RouterBatch,
  RouterBatchRepository,
  RouterOutboxRepository,
} from '@trading/db';
import { consumerMetrics, DeadLetterPublisher, PARTITIONS_ASSIGNED, PartitionConsumer } from '@trading/kafka';
import { MetricsRegistry } from '@trading/metrics';
import type { MarketCatalogService, ProducerService } from '@trading/nest-common';
import type { OrderRouterConfig } from '../order-router.config';
import { COMMANDS, OrderRouterService, UPDATES } from '../order-router.service';
import type { OrderStreamPublisher, OrderStreamUpdate } from '../order-stream.publisher';

// The order-router service behind its real PartitionConsumer transport (batch by batch), over
// in-memory stand-ins of its database, Kafka consumer and producer, market catalog and Redis
// stream: what a unit spec of the router's wiring needs.

export const SYMBOL = 'AB-USDT';
export const P = 5;
export const market: MarketSpec = sampleMarketSpec({
  symbol: SYMBOL,
  baseAsset: 'AB',
  lotSize: '0.001',
  minNotional: '0',
  makerFeeBps: 0,
  takerFeeBps: 0,
});

/** An open order as the database holds it. */
export function order(orderId: string, accountId: string, qty: number, over: Partial<OrderStateRow> = {}) {
  const row: OrderStateRow = {
    orderId,
    accountId,
    symbol: SYMBOL,
    side: 'buy',
    orderType: 'limit',
    price: 100,
    protectionPrice: null,
    quoteBudget: null,
    qty,
    filledQty: 0,
    filledNotional: 0n,
    status: 'pending',
    reason: null,
    lastSeq: 0,
    holdAsset: null,
    holdRemaining: 0n,
    makerFeeBps: 0,
    takerFeeBps: 0,
    ...over,
  };
  return row;
}

let placed = 0;
/** A buy of 3 lots at 100 as the gateway sends it (the schema's defaults for the rest), with fresh ids. */
export function placeCommand(over: Partial<PlaceOrderCommand> = {}): PlaceOrderCommand {
  placed += 1;
  return placeOrderCommandSchema.parse({
    kind: 'place',
    commandId: `c${placed}`,
    accountId: 'a1',
    orderId: `o${placed}`,
    symbol: SYMBOL,
    side: 'buy',
    orderType: 'limit',
    qty: 3,
    price: 100,
    receivedAt: 1_000,
    ...over,
  });
}

/** A consumed Kafka record. */
export function record(offset: number, value: unknown, key = 'a1'): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from(key),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  } as unknown as KafkaMessage;
}

interface Seed {
  orders?: OrderStateRow[];
  /** `accountId NUL clientOrderId` -> orderId, of stored placements. */
  clientOrderIds?: Map<string, string>;
  balances?: BalanceRow[];
  ledger?: LedgerRow[];
  markets?: MarketSpec[];
}

export function routerHarness(seed: Seed = {}) {
  const committed: RouterBatch[] = [];
  /** What was produced to account.events.v1 (the rest of what was sent is in `sent`). */
  const accountEvents: { topic: string; key: string; partition: number | undefined; value: unknown }[] = [];
  const sent: { topic: string; key: string; partition: number | undefined; value: unknown }[] = [];
  const deadLettered: { topic: string; value: { sourceOffset: string; reason: string } }[] = [];
  const published: { stream: Map<string, OrderStreamUpdate[]>; forget: string[] }[] = [];
  // connect/subscribe/run succeed at once: the transport's connection retry loop must not keep a
  // timer alive after the test (jest would not exit).
  const consumer = {
    events: { GROUP_JOIN: 'join' },
    on: () => undefined,
    seek: () => undefined,
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async () => undefined,
    disconnect: async () => undefined,
  };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const config = {
    ORDER_ROUTER_GROUP_ID: 'order-router',
    KAFKA_PARTITIONS: 12,
    ORDER_ROUTER_CONCURRENCY: 12,
    ORDER_ROUTER_OPEN_ORDERS_CACHED: 100,
    ORDER_ROUTER_GROUP_COMMIT_MAX: 64,
    ORDER_ROUTER_COMMIT_LANES: 2,
  } as unknown as OrderRouterConfig;
  const catalog = new Map((seed.markets ?? [market]).map((m) => [m.symbol, m]));
  const markets = {
    ensureLoaded: async () => undefined,
    get: (s: string) => catalog.get(s),
    refresh: async (s: string) => catalog.get(s),
  } as unknown as MarketCatalogService;
  const stream = {
    publish: async (s: Map<string, OrderStreamUpdate[]>, forget: Iterable<string> = []) =>
      void published.push({ stream: s, forget: [...forget] }),
  } as unknown as OrderStreamPublisher;
  const producer = {
    producer: {
      encode: (r: { key: string; schema: z.ZodTypeAny; value: unknown }): Message => ({
        key: r.key,
        value: JSON.stringify(r.schema.parse(r.value)),
      }),
      sendEncoded: async (topic: string, m: Message) =>
        void (topic === TOPICS.accountEvents.name ? accountEvents : sent).push({
          topic,
          key: String(m.key),
          partition: m.partition,
          value: JSON.parse(String(m.value)),
        }),
      send: async (r: { topic: string; value: { sourceOffset: string; reason: string } }) =>
        void deadLettered.push({ topic: r.topic, value: r.value }),
    },
  } as unknown as ProducerService;
  const metrics = new MetricsRegistry('test', 't');
  const consumed = consumerMetrics(metrics, {
    batch: { name: 'router_batch_size', help: 'Records per partition batch' },
    lag: {
      name: 'kafka_consumer_lag_records',
      help: 'Records behind the high watermark',
      group: 'order-router',
    },
    deadLetters: { name: 'kafka_dead_lettered_total', help: 'Records sent to the dead-letter topic' },
  });

  // The database: what the seed holds, and what every commit wrote.
  const orders = new Map((seed.orders ?? []).map((s) => [s.orderId, s]));
  const clientOrderIds = new Map(seed.clientOrderIds ?? []);
  const ledger = new Map((seed.ledger ?? []).map((e) => [e.key, e]));
  const reads: string[][] = [];
  let failNextCommit = false;
  // A failed commit ends the delivery (as a rebalance would); the next delivery is the redelivery.
  let stale = false;
  const outbox = { pending: async () => [] } as unknown as RouterOutboxRepository;
  // Each account's stream seq as committed, and the stream outbox rows not yet pruned.
  const streamSeqs = new Map<string, number>();
  const streamOutbox: { partition: number; records: string }[] = [];
  const accountStream = {
    seqs: async (ids: string[]) => new Map(ids.map((a) => [a, streamSeqs.get(a) ?? 0])),
    pending: async (p: number) => streamOutbox.filter((r) => r.partition === p).map((r) => r.records),
  } as unknown as AccountStreamRepository;
  const balances = {
    forAccounts: async (ids: string[]) => (seed.balances ?? []).filter((b) => ids.includes(b.accountId)),
    findEntries: async (keys: string[]) => keys.flatMap((k) => (ledger.has(k) ? [ledger.get(k)!] : [])),
  } as unknown as BalancesRepository;
  // order_amends_in_flight: the JSON list by order, as committed.
  const amendsInFlight = new Map<string, string>();
  const ordersRepository = {
    findAmendsInFlight: async (ids: string[]) =>
      new Map(
        ids.flatMap((id) =>
          amendsInFlight.has(id) ? [[id, JSON.parse(amendsInFlight.get(id)!) as object[]]] : [],
        ),
      ),
    findStates: async (ids: string[]) => {
      reads.push(ids);
      return new Map(ids.flatMap((id) => (orders.has(id) ? [[id, { ...orders.get(id)! }]] : [])));
    },
    findByClientOrderIds: async (pairs: { accountId: string; clientOrderId: string }[]) =>
      new Map(
        pairs.flatMap(({ accountId, clientOrderId }) => {
          const k = `${accountId}\u0000${clientOrderId}`;
          return clientOrderIds.has(k) ? [[k, clientOrderIds.get(k)!]] : [];
        }),
      ),
  } as unknown as OrdersRepository;
  const batches = {
    commit: async (b: RouterBatch) => {
      if (failNextCommit) {
        failNextCommit = false;
        stale = true;
        throw new Error('database went away');
      }
      committed.push(structuredClone(b));
      const st = b.batch.stream;
      if (st) {
        for (let i = streamOutbox.length - 1; i >= 0; i--)
          if (streamOutbox[i].partition === st.partition) streamOutbox.splice(i, 1);
        if (st.records !== null) streamOutbox.push({ partition: st.partition, records: st.records });
        for (const [a, q] of st.seqs) streamSeqs.set(a, Math.max(streamSeqs.get(a) ?? 0, q));
      }
      for (const [id, list] of b.batch.amends ?? [])
        if (list === null) amendsInFlight.delete(id);
        else amendsInFlight.set(id, list);
      for (const e of b.batch.ledger) if (!ledger.has(e.key)) ledger.set(e.key, e);
      for (const s of b.batch.states) orders.set(s.orderId, { ...s });
      if (b.kind === 'commands')
        for (const o of b.batch.orders) {
          if (o.clientOrderId) clientOrderIds.set(`${o.accountId}\u0000${o.clientOrderId}`, o.orderId);
          orders.set(
            o.orderId,
            order(o.orderId, o.accountId, o.qty, {
              symbol: o.symbol,
              side: o.side,
              orderType: o.orderType as OrderStateRow['orderType'],
              price: o.price,
              protectionPrice: o.protectionPrice,
              quoteBudget: o.quoteBudget,
              status: o.status,
              reason: o.reason,
              holdAsset: o.holdAsset,
              holdRemaining: o.holdRemaining,
              makerFeeBps: o.makerFeeBps,
              takerFeeBps: o.takerFeeBps,
            }),
          );
        }
    },
  } as unknown as RouterBatchRepository;
  const service = new OrderRouterService(
    config,
    ordersRepository,
    balances,
    outbox,
    batches,
    accountStream,
    markets,
    stream,
    producer,
    metrics,
    consumed,
  );
  const transport = new PartitionConsumer(kafka, {
    name: 'order-router',
    groupId: 'order-router',
    topics: { [COMMANDS]: orderCommandSchema, [UPDATES]: orderUpdateBatchSchema },
    commit: { kind: 'store', load: async () => null },
    deadLetters: new DeadLetterPublisher(producer.producer, 'order-router'),
    metrics: consumed,
    lockPartitions: true,
  });
  transport.addHandler(COMMANDS, service.commands.bind(service) as never, true);
  transport.addHandler(UPDATES, service.updates.bind(service) as never, true);
  transport.addHandler(
    PARTITIONS_ASSIGNED,
    (async (a: Record<string, number[]>) => service.assigned(a)) as never,
    true,
  );
  transport.listen(() => undefined);

  const deliver = async (topic: string, messages: KafkaMessage[]) => {
    const resolved: string[] = [];
    const payload = {
      batch: { topic, partition: P, messages, offsetLag: () => '0' },
      resolveOffset: (o: string) => void resolved.push(o),
      heartbeat: async () => undefined,
      commitOffsetsIfNecessary: async () => undefined,
      uncommittedOffsets: () => ({ topics: [] }),
      isRunning: () => true,
      isStale: () => stale,
    } as unknown as EachBatchPayload;
    stale = false;
    await transport.onBatch(payload);
    return resolved;
  };

  /** The values of a counter or gauge of the service, as `label=value,...` -> value. */
  const metric = async (name: string): Promise<Record<string, number>> => {
    const m = metrics.registry.getSingleMetric(name);
    const out: Record<string, number> = {};
    for (const v of (await m!.get()).values)
      out[
        Object.entries(v.labels)
          .map(([k, x]) => `${k}=${String(x)}`)
          .join(',')
      ] = v.value;
    return out;
  };

  return {
    service,
    committed,
    sent,
    deadLettered,
    published,
    reads,
    deliver,
    metric,
    failCommit: () => (failNextCommit = true),
    streamSeqs,
    streamOutbox,
    accountEvents,
    amendsInFlight,
  };
}
