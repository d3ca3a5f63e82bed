import { Logger } from '@nestjs/common';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { TOPICS, toMarketSpec, type OrderUpdate } from '@trading/contracts';
import type { OrderEventRow, OrderStateRow, RouterBatch, UpdatesBatch } from '@trading/db';
import { MetricsRegistry } from '@trading/metrics';
import type { DatabaseService, MarketCatalogService, ProducerService } from '@trading/nest-common';
import type { OrderRouterConfig } from './order-router.config';
import { OrderRouterService } from './order-router.service';
import type { OrderStreamPublisher } from './order-stream.publisher';

// The router's consumption of orders.updates.v2 through its real onBatch, with in-memory
// repositories: batch records are unpacked in order, a malformed record goes to the dead letter
// on its own, and the rest (events, order state, offset) is what one record per update gave.

const SYMBOL = 'AB-USDT';
const P = 5;
const market = toMarketSpec({
  symbol: SYMBOL,
  baseAsset: 'AB',
  quoteAsset: 'USDT',
  baseDecimals: 8,
  quoteDecimals: 6,
  tickSize: '0.01',
  lotSize: '0.001',
  minQtyLots: 1,
  minNotional: '0',
  makerFeeBps: 0,
  takerFeeBps: 0,
  status: 'trading',
});

function order(orderId: string, accountId: string, qty: number): OrderStateRow {
  return {
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
  };
}

function accepted(orderId: string, accountId: string, seq: number, qty: number): OrderUpdate {
  return {
    accountId,
    orderId,
    symbol: SYMBOL,
    seq,
    receivedAt: 1,
    emittedAt: 2,
    event: { type: 'accepted', seq, orderId, accountId, side: 'buy', orderType: 'limit', price: 100, qty },
  };
}

function trade(orderId: string, accountId: string, seq: number, remaining: number): OrderUpdate {
  return {
    accountId,
    orderId,
    symbol: SYMBOL,
    seq,
    receivedAt: 1,
    emittedAt: 2,
    event: {
      type: 'trade',
      seq,
      price: 100,
      qty: 1,
      makerOrderId: 'maker-order',
      takerOrderId: orderId,
      makerAccountId: 'maker',
      takerAccountId: accountId,
      takerSide: 'buy',
      makerRemainingQty: 0,
      takerRemainingQty: remaining,
    },
  };
}

function record(offset: number, value: unknown): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from('a1'),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  } as unknown as KafkaMessage;
}

function harness(states: OrderStateRow[]) {
  const committed: UpdatesBatch[] = [];
  const deadLettered: { topic: string; value: { sourceOffset: string; reason: string } }[] = [];
  const consumer = { events: { GROUP_JOIN: 'join' }, on: () => undefined, seek: () => undefined };
  const kafka = { consumer: () => consumer } as unknown as Kafka;
  const config = {
    ORDER_ROUTER_GROUP_ID: 'order-router',
    KAFKA_PARTITIONS: 12,
    ORDER_ROUTER_CONCURRENCY: 12,
    ORDER_ROUTER_OPEN_ORDERS_CACHED: 100,
    ORDER_ROUTER_GROUP_COMMIT_MAX: 64,
    ORDER_ROUTER_COMMIT_LANES: 2,
  } as unknown as OrderRouterConfig;
  const db = { dataSource: {} } as unknown as DatabaseService;
  const markets = {
    ensureLoaded: async () => undefined,
    get: (s: string) => (s === SYMBOL ? market : undefined),
  } as unknown as MarketCatalogService;
  const stream = { publish: async () => undefined } as unknown as OrderStreamPublisher;
  const producer = {
    producer: {
      send: async (r: { topic: string; value: { sourceOffset: string; reason: string } }) =>
        void deadLettered.push({ topic: r.topic, value: r.value }),
    },
  } as unknown as ProducerService;
  const service = new OrderRouterService(
    kafka,
    config,
    db,
    markets,
    stream,
    producer,
    new MetricsRegistry('test', 't'),
  );
  const byId = new Map(states.map((s) => [s.orderId, s]));
  const reads: string[][] = [];
  let failNextCommit = false;
  Object.assign(service, {
    outbox: { pending: async () => [] },
    offsets: { load: async () => null },
    balances: { forAccounts: async () => [] },
    orders: {
      findStates: async (ids: string[]) => {
        reads.push(ids);
        return new Map(ids.flatMap((id) => (byId.has(id) ? [[id, { ...byId.get(id)! }]] : [])));
      },
    },
    batches: {
      commit: async (b: RouterBatch) => {
        if (failNextCommit) {
          failNextCommit = false;
          throw new Error('database went away');
        }
        if (b.kind === 'updates') committed.push(b.batch);
      },
    },
  });
  const deliver = async (messages: KafkaMessage[]) => {
    const resolved: string[] = [];
    const payload = {
      batch: { topic: TOPICS.orderUpdates.name, partition: P, messages, offsetLag: () => '0' },
      resolveOffset: (o: string) => void resolved.push(o),
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload;
    await (service as unknown as { onBatch(p: EachBatchPayload): Promise<void> }).onBatch(payload);
    return resolved;
  };
  return { committed, deadLettered, deliver, reads, failCommit: () => (failNextCommit = true) };
}

const seqsOf = (events: OrderEventRow[]) => events.map((e) => `${e.orderId}@${e.seq}`);

describe('OrderRouterService on orders.updates.v2', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('reads an open order from the database once, and again only after a failed batch', async () => {
    const h = harness([order('o1', 'a1', 3), order('o2', 'a2', 1)]);
    await h.deliver([record(30, { updates: [accepted('o1', 'a1', 1, 3), accepted('o2', 'a2', 2, 1)] })]);
    await h.deliver([record(31, { updates: [trade('o1', 'a1', 3, 2)] })]);
    expect(h.reads).toEqual([['o1', 'o2']]);
    expect(h.committed[1].states).toEqual([
      expect.objectContaining({ orderId: 'o1', filledQty: 1, lastSeq: 3 }),
    ]);

    // A failed commit leaves memory ahead of the database: the partition's orders are read again.
    h.failCommit();
    await expect(h.deliver([record(32, { updates: [trade('o1', 'a1', 4, 1)] })])).rejects.toThrow(
      /went away/,
    );
    await h.deliver([record(32, { updates: [trade('o1', 'a1', 4, 1)] })]);
    expect(h.reads).toEqual([['o1', 'o2'], ['o1']]);

    // The failure dropped all of the partition's orders (o2 too); o1, read again, stays in memory.
    await h.deliver([record(33, { updates: [trade('o2', 'a2', 5, 0), trade('o1', 'a1', 6, 0)] })]);
    expect(h.reads).toEqual([['o1', 'o2'], ['o1'], ['o2']]);
    expect(h.committed.at(-1)!.states).toEqual([
      expect.objectContaining({ orderId: 'o2', status: 'filled' }),
      expect.objectContaining({ orderId: 'o1', status: 'filled' }),
    ]);
  });

  it('applies the updates of every batch record in record order, then engine order', async () => {
    const h = harness([order('o1', 'a1', 3), order('o2', 'a2', 1)]);
    const resolved = await h.deliver([
      record(10, {
        updates: [accepted('o1', 'a1', 1, 3), accepted('o2', 'a2', 2, 1), trade('o1', 'a1', 3, 2)],
      }),
      record(12, { updates: [trade('o1', 'a1', 7, 0), trade('o2', 'a2', 8, 0)] }),
    ]);
    expect(h.deadLettered).toEqual([]);
    expect(h.committed).toHaveLength(1);
    const b = h.committed[0];
    expect(seqsOf(b.events)).toEqual(['o1@1', 'o2@2', 'o1@3', 'o1@7', 'o2@8']);
    expect(b.offset).toEqual({
      groupId: 'order-router',
      topic: TOPICS.orderUpdates.name,
      partition: P,
      nextOffset: 13,
    });
    const states = new Map(b.states.map((s) => [s.orderId, s]));
    expect(states.get('o1')).toMatchObject({ status: 'filled', filledQty: 2, lastSeq: 7 });
    expect(states.get('o2')).toMatchObject({ status: 'filled', filledQty: 1, lastSeq: 8 });
    expect(resolved).toEqual(['12']);
  });

  it('dead-letters a malformed record on its own and applies the records around it', async () => {
    const h = harness([order('o1', 'a1', 3)]);
    await h.deliver([
      record(20, { updates: [accepted('o1', 'a1', 1, 3)] }),
      record(21, { updates: [] }),
      record(22, accepted('o1', 'a1', 2, 3)), // a v1-shaped record is not a batch
      record(23, 'not json'),
      record(24, { updates: [trade('o1', 'a1', 4, 2)] }),
    ]);
    expect(h.deadLettered.map((d) => [d.topic, d.value.sourceOffset])).toEqual([
      [TOPICS.deadLetter.name, '21'],
      [TOPICS.deadLetter.name, '22'],
      [TOPICS.deadLetter.name, '23'],
    ]);
    expect(h.deadLettered[0].value.reason).toMatch(/^updates:/);
    expect(h.committed).toHaveLength(1);
    expect(seqsOf(h.committed[0].events)).toEqual(['o1@1', 'o1@4']);
    expect(h.committed[0].offset.nextOffset).toBe(25);
    expect(h.committed[0].states[0]).toMatchObject({ status: 'partially_filled', filledQty: 1, lastSeq: 4 });
  });
});
