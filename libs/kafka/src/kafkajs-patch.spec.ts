// patches/kafkajs+2.2.4.patch (applied by `npm install`'s postinstall): kafkajs's sendMessages
// skipped, on a retry, every broker that had answered before. When a dead broker's partitions
// moved to such a broker, their messages were dropped and the send resolved (tulios/kafkajs#1303;
// seen in the 3-broker drill, scripts/chaos/broker-loss.ts, as a lost fill update). This drives
// the real sendMessages with a scripted cluster to prove the patched behaviour.
import { createRequire } from 'node:module';

type Produce = (req: {
  topicData: { topic: string; partitions: { partition: number | string; messages: unknown[] }[] }[];
}) => Promise<unknown>;
type SendMessages = (
  options: Record<string, unknown>,
) => (args: Record<string, unknown>) => Promise<unknown[]>;

const sendMessages = createRequire(__filename)('kafkajs/src/producer/sendMessages') as SendMessages;

function scenario() {
  // Partition 0 led by broker 1 (about to die), partition 1 by broker 2; after the failure the
  // metadata refresh moves partition 0 to broker 2.
  const leaders: Record<string, number> = { '0': 1, '1': 2 };
  const received: Record<number, string[]> = { 1: [], 2: [] };
  const produce =
    (nodeId: number): Produce =>
    (req) => {
      if (nodeId === 1 && leaders['0'] === 1) {
        const err = new Error('Connection error: connect ECONNREFUSED');
        err.name = 'KafkaJSConnectionError';
        return Promise.reject(err);
      }
      for (const t of req.topicData)
        for (const p of t.partitions) received[nodeId].push(`${t.topic}/${String(p.partition)}`);
      return Promise.resolve({
        topics: req.topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      });
    };
  const brokers: Record<number, { nodeId: number; produce: Produce }> = {
    1: { nodeId: 1, produce: produce(1) },
    2: { nodeId: 2, produce: produce(2) },
  };
  const cluster = {
    targetTopics: new Set<string>(),
    refreshMetadataIfNecessary: () => Promise.resolve(),
    refreshMetadata: () => {
      leaders['0'] = 2;
      return Promise.resolve();
    },
    addMultipleTargetTopics: () => Promise.resolve(),
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () =>
      Object.keys(leaders).map((p) => ({ partitionId: Number(p), leader: leaders[p] })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const out: Record<number, string[]> = {};
      for (const p of partitions) (out[leaders[p]] ??= []).push(p);
      return out;
    },
    findBroker: ({ nodeId }: { nodeId: string | number }) => Promise.resolve(brokers[Number(nodeId)]),
  };
  const eosManager = {
    acquireBrokerLock: () => Promise.resolve(),
    releaseBrokerLock: () => Promise.resolve(),
    isTransactional: () => false,
    getSequence: () => 0,
    updateSequence: () => undefined,
    getTransactionalId: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
  };
  const retrier = async (fn: (bail: (e: unknown) => never, n: number, t: number) => Promise<unknown>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(
          (e) => {
            throw e;
          },
          attempt,
          0,
        );
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  };
  const logger = { debug: () => undefined, error: () => undefined };
  const partitioner = ({ message }: { message: { partition: number } }) => message.partition;
  const send = sendMessages({ logger, cluster, partitioner, eosManager, retrier });
  return { send, received };
}

describe('kafkajs sendMessages (patched)', () => {
  it('re-sends the messages of a dead leader to the new leader even when it answered before', async () => {
    const { send, received } = scenario();
    const responses = await send({
      acks: -1,
      timeout: 1000,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { partition: 0, value: 'a' },
            { partition: 1, value: 'b' },
          ],
        },
      ],
    });
    // Broker 2 got partition 1 in the first round and partition 0 after the leader moved.
    expect(received[2].sort()).toEqual(['t/0', 't/1']);
    expect(received[1]).toEqual([]);
    expect(responses.map((r) => String((r as { partition: number }).partition)).sort()).toEqual(['0', '1']);
  });
});

// Second part of the patch: the transactional producer's eosManager looked up the transaction
// coordinator (and the consumer group's coordinator) with a FindCoordinator request before every
// transaction request, four per consume-process-produce transaction (JMX: FindCoordinator 0.20
// requests per order, a quarter of all broker requests). It now keeps them while their broker is
// connected and forgets one after any error from it.
type EosManager = {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
  addPartitionsToTransaction(
    topicData: { topic: string; partitions: { partition: number }[] }[],
  ): Promise<void>;
  sendOffsets(args: {
    consumerGroupId: string;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
};
const createEosManager = createRequire(__filename)('kafkajs/src/producer/eosManager') as (
  options: Record<string, unknown>,
) => EosManager;

function coordinatorScenario() {
  const lookups: string[] = [];
  const calls: string[] = [];
  let failNext: string | null = null;
  let connected = true;
  const request = (name: string) => () => {
    calls.push(name);
    if (failNext === name) {
      failNext = null;
      const err = new Error('This is not the correct coordinator.') as Error & { type: string };
      err.type = 'NOT_COORDINATOR';
      return Promise.reject(err);
    }
    return Promise.resolve(name === 'initProducerId' ? { producerId: 7, producerEpoch: 0 } : {});
  };
  const broker = {
    nodeId: 1,
    isConnected: () => connected,
    initProducerId: request('initProducerId'),
    addPartitionsToTxn: request('addPartitionsToTxn'),
    addOffsetsToTxn: request('addOffsetsToTxn'),
    txnOffsetCommit: request('txnOffsetCommit'),
    endTxn: request('endTxn'),
  };
  const cluster = {
    retry: { retries: 0 },
    refreshMetadataIfNecessary: () => Promise.resolve(),
    findGroupCoordinator: ({ groupId }: { groupId: string }) => {
      lookups.push(groupId);
      return Promise.resolve(broker);
    },
  };
  const logger = { debug: () => undefined, error: () => undefined, warn: () => undefined };
  const eos = createEosManager({ logger, cluster, transactional: true, transactionalId: 'txn-1' });
  const transaction = async () => {
    eos.beginTransaction();
    await eos.addPartitionsToTransaction([{ topic: 'out', partitions: [{ partition: 0 }] }]);
    await eos.sendOffsets({
      consumerGroupId: 'group-1',
      topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '1' }] }],
    });
    await eos.commit();
  };
  return {
    eos,
    lookups,
    calls,
    transaction,
    fail: (name: string) => (failNext = name),
    disconnect: () => (connected = false),
  };
}

describe('kafkajs eosManager coordinators (patched)', () => {
  it('looks each coordinator up once for any number of transactions', async () => {
    const s = coordinatorScenario();
    await s.eos.initProducerId();
    for (let i = 0; i < 5; i++) await s.transaction();
    expect(s.lookups).toEqual(['txn-1', 'group-1']);
    expect(s.calls.filter((c) => c === 'endTxn')).toHaveLength(5);
  });

  it('looks the coordinator up again after an error from it, and when its connection is gone', async () => {
    const s = coordinatorScenario();
    await s.eos.initProducerId();
    await s.transaction();
    s.fail('addPartitionsToTxn');
    s.eos.beginTransaction();
    await expect(
      s.eos.addPartitionsToTransaction([{ topic: 'out', partitions: [{ partition: 0 }] }]),
    ).rejects.toThrow(/not the correct coordinator/);
    await s.eos.abort();
    await s.transaction();
    expect(s.lookups).toEqual(['txn-1', 'group-1', 'txn-1']);
    s.disconnect();
    await s.transaction();
    expect(s.lookups.slice(3).sort()).toEqual(['group-1', 'txn-1', 'txn-1', 'txn-1']);
  });
});

// The same patch: kafkajs's RequestQueue re-armed a 1 ms timer forever once any response had
// come back (throttledUntil is -1 until a broker throttles, so "throttledUntil - now" is a large
// negative delay, which Node clamps to 1 ms and Node 24 warns about: tulios/kafkajs#1751). Every
// broker connection of every idle client woke its process a thousand times a second.
describe('kafkajs RequestQueue (patched): no timer while nothing is pending', () => {
  type Queue = {
    scheduleCheckPendingRequests(): void;
    throttleCheckTimeoutId: NodeJS.Timeout | null;
    pending: unknown[];
    throttledUntil: number;
    destroy(): void;
  };
  const RequestQueue = createRequire(__filename)('kafkajs/src/network/requestQueue') as new (
    o: Record<string, unknown>,
  ) => Queue;
  const logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };
  const queue = () =>
    new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1000, clientId: 't', broker: 'b:1', logger });

  it('arms no timer when nothing is pending and the broker does not throttle', () => {
    const q = queue();
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still checks a pending request after the usual interval, and a throttled queue when the throttle ends', () => {
    const q = queue();
    q.pending.push({});
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(q.throttleCheckTimeoutId!);
    q.throttleCheckTimeoutId = null;
    q.pending.length = 0;
    q.throttledUntil = Date.now() + 5000;
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    clearTimeout(q.throttleCheckTimeoutId!);
  });
});

// Third part: ConsumerGroup#fetch polled every maxWaitTime while nothing flowed (the matching
// workers every 20 ms: 150 empty fetches a second from three idle workers, most of the idle
// broker's CPU). After a fetch that brought no records it now asks for the first byte and waits up
// to idleMaxWaitTimeInMs; records answer it at once, and while they flow the configured wait and
// minimum bytes batch them.
describe('kafkajs ConsumerGroup fetch (patched): the idle wait', () => {
  type FetchRequest = { maxWaitTime: number; minBytes: number };
  type ConsumerGroupLike = {
    fetch(nodeId: number): Promise<{ messages: unknown[] }[]>;
  } & Record<string, unknown>;
  const ConsumerGroup = createRequire(__filename)('kafkajs/src/consumer/consumerGroup') as new (
    options: Record<string, unknown>,
  ) => ConsumerGroupLike;

  function group(idleMaxWaitTimeInMs: number | undefined, answers: number[]) {
    const requests: FetchRequest[] = [];
    const broker = {
      fetch: (req: FetchRequest) => {
        requests.push({ maxWaitTime: req.maxWaitTime, minBytes: req.minBytes });
        const count = answers.shift() ?? 0;
        const messages = Array.from({ length: count }, (_, i) => ({
          offset: String(i),
          value: Buffer.from('x'),
        }));
        return Promise.resolve({
          responses: [{ topicName: 't', partitions: [{ partition: 0, highWatermark: '9', messages }] }],
        });
      },
    };
    const logger = { namespace: () => logger, debug: () => undefined, info: () => undefined };
    const g = new ConsumerGroup({
      logger,
      cluster: {
        refreshMetadataIfNecessary: () => Promise.resolve(),
        findBroker: () => Promise.resolve(broker),
      },
      topics: ['t'],
      topicConfigurations: {},
      retry: {},
      minBytes: 65_536,
      maxWaitTimeInMs: 20,
      idleMaxWaitTimeInMs,
    });
    Object.assign(g, {
      checkForStaleAssignment: () => undefined,
      subscriptionState: { assigned: () => [{ topic: 't', partitions: [0] }], isPaused: () => false },
      filterPartitionsByNode: (_n: number, tps: unknown) => tps,
      seekOffsets: () => Promise.resolve(),
      offsetManager: { committedOffsets: () => ({ t: { 0: '0' } }), nextOffset: () => '0' },
      getActiveTopicPartitions: () => ({ t: new Set([0]) }),
    });
    return { g, requests };
  }

  it('waits for the first byte after an empty fetch, and batches again once records flow', async () => {
    const { g, requests } = group(500, [0, 0, 3, 2, 0]);
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push((await g.fetch(1)).reduce((n, b) => n + b.messages.length, 0));
    expect(got).toEqual([0, 0, 3, 2, 0, 0]);
    expect(requests).toEqual([
      { maxWaitTime: 20, minBytes: 65_536 }, // nothing known yet: as configured
      { maxWaitTime: 500, minBytes: 1 }, // after an empty fetch: idle
      { maxWaitTime: 500, minBytes: 1 }, // this one brings 3 records
      { maxWaitTime: 20, minBytes: 65_536 }, // records flow: batched as configured
      { maxWaitTime: 20, minBytes: 65_536 },
      { maxWaitTime: 500, minBytes: 1 },
    ]);
  });

  it('gets the idle wait from Kafka#consumer through to the consumer group', async () => {
    // Kafka#consumer and createConsumer each list the options they pass on: one missing and the
    // setting is silently dropped (it was, until this test).
    const seen: Record<string, unknown>[] = [];
    let kafkajs: typeof import('kafkajs') | undefined;
    jest.isolateModules(() => {
      jest.doMock('kafkajs/src/consumer/consumerGroup', () => {
        return class {
          constructor(options: Record<string, unknown>) {
            seen.push(options);
            throw new Error('stop here');
          }
        };
      });
      kafkajs = jest.requireActual<typeof import('kafkajs')>('kafkajs');
    });
    const consumer = new kafkajs!.Kafka({
      brokers: ['127.0.0.1:9'],
      logLevel: kafkajs!.logLevel.NOTHING,
    }).consumer({
      groupId: 'g',
      maxWaitTimeInMs: 20,
      idleMaxWaitTimeInMs: 500,
    } as import('kafkajs').ConsumerConfig);
    await expect(consumer.run({ eachBatch: async () => undefined })).rejects.toThrow('stop here');
    expect(seen[0]).toMatchObject({ maxWaitTimeInMs: 20, idleMaxWaitTimeInMs: 500 });
  });

  it('polls as configured when no idle wait is set (kafkajs as published)', async () => {
    const { g, requests } = group(undefined, [0, 0, 1]);
    for (let i = 0; i < 3; i++) await g.fetch(1);
    expect(requests.every((r) => r.maxWaitTime === 20 && r.minBytes === 65_536)).toBe(true);
  });
});
