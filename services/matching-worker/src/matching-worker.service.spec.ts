import { Logger } from '@nestjs/common';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import {
  orderUpdateBatchSchema,
  TOPICS,
  sampleMarketSpec,
  type Execution,
  type SequencedCommand,
} from '@trading/contracts';
import type { EngineSnapshotsRepository } from '@trading/db';
import { PARTITIONS_ASSIGNED, PartitionConsumer, partitionFor } from '@trading/kafka';
import { MetricsRegistry } from '@trading/metrics';
import type { MarketCatalogService } from '@trading/nest-common';
import type { MatchingWorkerConfig } from './matching-worker.config';
import { INPUT, MatchingWorkerService } from './matching-worker.service';
import { sequencedCommandSchema } from '@trading/contracts';

// The worker's position handling, driven batch by batch through the PartitionConsumer transport
// with an in-memory kafkajs consumer, producer and snapshot store (the engine, the transport and
// the worker's own code are real). The case is the chaos-run
// defect of session 3: the consumer rejoins while a partition is replaying silently, the
// position goes back to the committed offset, and the offsets in between must still be applied.

const SYMBOL = 'AB-USDT';
const P = 3;
const market = sampleMarketSpec({
  symbol: SYMBOL,
  baseAsset: 'AB',
  lotSize: '0.001',
  minNotional: '0',
  makerFeeBps: 0,
  takerFeeBps: 0,
});

/** Offsets 0..4: five resting sells at 100; 5..9: five buys at 100, each filling one sell. */
function command(offset: number): KafkaMessage {
  const sell = offset < 5;
  const cmd: SequencedCommand = {
    symbol: SYMBOL,
    accountId: sell ? 'seller' : 'buyer',
    receivedAt: 1,
    routedAt: 1,
    command: {
      type: 'new',
      orderId: `o-${offset}`,
      accountId: sell ? 'seller' : 'buyer',
      side: sell ? 'sell' : 'buy',
      orderType: 'limit',
      qty: 1,
      price: 100,
      tif: 'GTC',
    },
    source: { partition: 0, offset },
  };
  return { offset: String(offset), value: Buffer.from(JSON.stringify(cmd)) } as unknown as KafkaMessage;
}

interface Sent {
  topic: string;
  values: string[];
  keys: string[];
  partitions: number[];
}

function harness() {
  const seeks: number[] = [];
  const committed: Sent[][] = [];
  const handlers = new Map<string, (e: unknown) => void>();
  const consumer = {
    events: { GROUP_JOIN: 'consumer.group_join' },
    on: (event: string, fn: (e: unknown) => void) => handlers.set(event, fn),
    seek: ({ offset }: { offset: string }) => seeks.push(Number(offset)),
    // Succeed at once: the transport's connection retry loop must not keep a timer alive.
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async () => undefined,
    disconnect: async () => undefined,
  };
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    transaction: async () => {
      const sent: Sent[] = [];
      return {
        sendBatch: async ({
          topicMessages,
        }: {
          topicMessages: { topic: string; messages: { value: string; key: string; partition: number }[] }[];
        }) => {
          for (const t of topicMessages)
            sent.push({
              topic: t.topic,
              values: t.messages.map((m) => m.value),
              keys: t.messages.map((m) => m.key),
              partitions: t.messages.map((m) => m.partition),
            });
        },
        sendOffsets: async () => undefined,
        commit: async () => void committed.push(sent),
        abort: async () => undefined,
      };
    },
  };
  const kafka = { consumer: () => consumer, producer: () => producer } as unknown as Kafka;
  const config = {
    MATCHING_GROUP_ID: 'matching-worker',
    KAFKA_PARTITIONS: 12,
    DEPTH_LEVELS: 5,
    SNAPSHOT_EVERY_COMMANDS: 1_000_000,
    SNAPSHOT_INTERVAL_MS: 3_600_000,
  } as unknown as MatchingWorkerConfig;
  // No snapshot stored: a restore starts from an empty book (offset -1).
  const snapshots = {
    load: async () => null,
    save: async () => undefined,
  } as unknown as EngineSnapshotsRepository;
  const markets = {
    ensureLoaded: async () => undefined,
    refresh: async () => market,
    get: (s: string) => (s === SYMBOL ? market : undefined),
  } as unknown as MarketCatalogService;
  const service = new MatchingWorkerService(
    kafka,
    config,
    snapshots,
    markets,
    new MetricsRegistry('test', 't'),
  );
  const transport = new PartitionConsumer(kafka, {
    name: 'matching',
    groupId: 'matching-worker',
    topics: { [INPUT]: sequencedCommandSchema },
    commit: { kind: 'transaction' },
    deadLetters: 'handler',
  });
  transport.addHandler(INPUT, service.handle.bind(service) as never, true);
  transport.addHandler(
    PARTITIONS_ASSIGNED,
    (async (a: Record<string, number[]>) => service.assigned(a)) as never,
    true,
  );
  transport.listen(() => undefined);

  const deliver = async (offsets: number[]) => {
    const messages = offsets.map(command);
    const payload = {
      batch: {
        topic: 'orders.sequenced.v1',
        partition: P,
        messages,
        offsetLag: () => '0',
      },
      resolveOffset: () => undefined,
      commitOffsetsIfNecessary: async () => undefined,
      uncommittedOffsets: () => ({ topics: [] }),
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload;
    await transport.onBatch(payload);
  };
  const rejoin = () =>
    handlers.get(consumer.events.GROUP_JOIN)!({
      payload: { memberAssignment: { 'orders.sequenced.v1': [P] } },
    });
  const trades = () =>
    committed
      .flat()
      .filter((t) => t.topic === 'executions.v1')
      .flatMap((t) => t.values.map((v) => JSON.parse(v) as Execution))
      .flatMap((e) => e.events.filter((ev) => ev.type === 'trade'));
  return { seeks, committed, deliver, rejoin, trades };
}

describe('MatchingWorkerService order updates', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('sends one orders.updates.v2 record per destination partition per transaction, in engine order', async () => {
    const h = harness();
    h.rejoin();
    await h.deliver([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.committed).toHaveLength(1);
    const [txn] = h.committed;
    const sent = txn.find((t) => t.topic === TOPICS.orderUpdates.name)!;
    const executions = txn
      .find((t) => t.topic === TOPICS.executions.name)!
      .values.map((v) => JSON.parse(v) as Execution);
    // What v1 sent, one record per order side of each event, in engine order.
    const expected = executions.flatMap((x) =>
      x.events.flatMap((e) =>
        e.type === 'trade'
          ? [
              `${e.makerAccountId}/${e.makerOrderId}@${e.seq}`,
              `${e.takerAccountId}/${e.takerOrderId}@${e.seq}`,
            ]
          : [`${'accountId' in e ? e.accountId : ''}/${e.orderId}@${e.seq}`],
      ),
    );
    expect(expected.length).toBeGreaterThan(10);
    const partitionOf = (a: string) => partitionFor(a, 12);
    const destinations = new Set(['seller', 'buyer'].map(partitionOf));
    expect(sent.partitions).toHaveLength(destinations.size);
    expect(new Set(sent.partitions)).toEqual(destinations);
    const got: string[][] = sent.values.map((v, i) => {
      const { updates } = orderUpdateBatchSchema.parse(JSON.parse(v));
      for (const u of updates) expect(partitionOf(u.accountId)).toBe(sent.partitions[i]);
      expect(sent.keys[i]).toBe(updates[0].accountId);
      return updates.map((u) => `${u.accountId}/${u.orderId}@${u.seq}`);
    });
    // Each record is the subsequence of the engine's order for its partition; together, all of it.
    for (const [i, p] of sent.partitions.entries())
      expect(got[i]).toEqual(expected.filter((x) => partitionOf(x.split('/')[0]) === p));
    expect(got.flat().sort()).toEqual([...expected].sort());
  });
});

describe('MatchingWorkerService positions', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('applies everything below the committed offset even when a rejoin interrupts the replay', async () => {
    const h = harness();
    h.rejoin();
    // Assigned with offsets committed up to 5: restore (empty), seek back to 0, replay silently.
    await h.deliver([5, 6, 7, 8, 9]);
    expect(h.seeks).toEqual([0]);
    await h.deliver([0, 1, 2]);
    expect(h.committed).toEqual([]);
    // Rejoin (e.g. after a Kafka restart): the position is back at the committed offset 5.
    h.rejoin();
    await h.deliver([5, 6, 7, 8, 9]);
    expect(h.seeks).toEqual([0, 3]); // back to where the book stands, not on from 5
    await h.deliver([3, 4, 5, 6, 7, 8, 9]);
    // Live output for 5..9 only, and each buy filled one of the five sells (none skipped).
    const trades = h.trades();
    expect(trades).toHaveLength(5);
    expect(trades.map((t) => (t as { makerOrderId: string }).makerOrderId)).toEqual([
      'o-0',
      'o-1',
      'o-2',
      'o-3',
      'o-4',
    ]);
  });

  it('goes on live without seeking when the batch starts where the book stands', async () => {
    const h = harness();
    h.rejoin();
    await h.deliver([0, 1, 2, 3, 4, 5]);
    h.rejoin();
    await h.deliver([6, 7, 8, 9]);
    expect(h.seeks).toEqual([]);
    expect(h.trades()).toHaveLength(5);
  });
});
