// The three Kafka clients of `npm run bench:kafka-clients` behind one small interface, each
// configured as the platform configures kafkajs (libs/kafka): an idempotent producer, acks=all,
// one request at a time; consumers in a group, read_committed, fetches of up to 20 ms / 64 KiB
// (the matching worker's); and the matching worker's consume-transform-produce: each batch of one
// input partition becomes one transaction of that partition's own transactional producer
// (transactional id per input partition, as libs/kafka's PartitionTransactions): its records to
// the same partition of the output topic, then the consumed offset with sendOffsets, then commit
// (ADR 0003). Partitions are processed concurrently, one transaction at a time each.
//
// kafkajs is the repository's own (with patches/kafkajs+2.2.4.patch). The two others are not
// dependencies of the repository: kafka-clients.ts installs them on demand into
// loadtest/kafka-clients/<name>/node_modules, and they are loaded from there, typed here only as
// far as this file uses them.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Kafka, logLevel, type ConsumerConfig } from 'kafkajs';
import { ROOT } from './platform';

/** What `sendOffsets` commits for a consumed partition batch: the offset after its last record. */
function offsetsAfter(
  topic: string,
  partition: number,
  messages: readonly { offset: string }[],
): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  return [
    { topic, partitions: [{ partition, offset: String(BigInt(messages[messages.length - 1].offset) + 1n) }] },
  ];
}

export const CLIENTS = ['kafkajs', 'platformatic', 'confluent'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Where an on-demand client lives, and the package it provides. */
export const ON_DEMAND: Record<Exclude<ClientName, 'kafkajs'>, { dir: string; pkg: string }> = {
  platformatic: { dir: join(ROOT, 'loadtest/kafka-clients/platformatic'), pkg: '@platformatic/kafka' },
  confluent: { dir: join(ROOT, 'loadtest/kafka-clients/confluent'), pkg: '@confluentinc/kafka-javascript' },
};

export interface BenchRecord {
  partition: number;
  key: Buffer;
  value: Buffer;
}

export interface Closable {
  close(): Promise<void>;
}

export interface BenchProducer extends Closable {
  /** One produce of all `records` (acks=all); resolves when every one is acknowledged. */
  send(topic: string, records: BenchRecord[]): Promise<void>;
}

export interface BenchTransformer extends Closable {
  /** Transactions committed so far. */
  readonly transactions: number;
}

export interface BenchClient {
  producer(): Promise<BenchProducer>;
  /** A group reading `topic` from its start, read_committed; `onValues` gets each fetched batch. */
  consumer(topic: string, groupId: string, onValues: (values: Buffer[]) => void): Promise<Closable>;
  /**
   * Consume `input` in group `groupId`; per input-partition batch one transaction to `output`.
   * With `paceMs`, a partition's transaction begins no sooner than that after its previous one
   * began (records gather meanwhile): the same transactions per second whichever the client.
   */
  transformer(input: string, output: string, groupId: string, paceMs?: number): Promise<BenchTransformer>;
}

export const FETCH_MAX_WAIT_MS = 20;
export const FETCH_MIN_BYTES = 65_536;
/** Consumers that do not take part in a transaction commit their offsets every second. */
export const AUTO_COMMIT_INTERVAL_MS = 1000;
export const TRANSACTION_TIMEOUT_MS = 10_000;
/**
 * kafkajs only, from patches/kafkajs+2.2.4.patch (ADR 0006): after an empty fetch the next one
 * waits for the first byte up to this long (the platform's KAFKA_FETCH_IDLE_WAIT_MS). The other
 * clients have no such option: idle, they fetch every FETCH_MAX_WAIT_MS.
 */
export const KAFKAJS_IDLE_MAX_WAIT_MS = 500;

const requireFrom = (name: Exclude<ClientName, 'kafkajs'>): NodeJS.Require =>
  createRequire(join(ON_DEMAND[name].dir, 'package.json'));

export function loadClient(name: ClientName, brokers: string[]): BenchClient {
  switch (name) {
    case 'kafkajs':
      return kafkajsClient(brokers);
    case 'platformatic':
      return platformaticClient(brokers);
    case 'confluent':
      return confluentClient(brokers);
  }
}

// ---------------------------------------------------------------------------------------------
// kafkajs 2.2.4 (patched), as libs/kafka uses it

const kafkajsConsumerConfig = (groupId: string): ConsumerConfig =>
  ({
    groupId,
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    minBytes: FETCH_MIN_BYTES,
    idleMaxWaitTimeInMs: KAFKAJS_IDLE_MAX_WAIT_MS,
  }) as ConsumerConfig; // the patched option (libs/kafka's PatchedConsumerConfig)

function kafkajsClient(brokers: string[]): BenchClient {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  // libs/kafka's createKafka: its timeouts and client-wide retry (DEFAULT_CLIENT_RETRY). The retry
  // matters for transactions: a transaction begun while the broker still writes the previous
  // one's markers is refused with CONCURRENT_TRANSACTIONS and retried after initialRetryTime
  // (kafkajs's default, 300 ms, would cap a producer at ~4 transactions a second).
  const kafka = new Kafka({
    clientId: 'bench-kafkajs',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
  });
  return {
    async producer() {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      return {
        send: async (topic, records) => {
          await producer.send({ topic, acks: -1, messages: records });
        },
        close: () => producer.disconnect(),
      };
    },
    async consumer(topic, groupId, onValues) {
      const consumer = kafka.consumer(kafkajsConsumerConfig(groupId));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommitInterval: AUTO_COMMIT_INTERVAL_MS,
        partitionsConsumedConcurrently: 12,
        eachBatch: async ({ batch }) => {
          onValues(batch.messages.map((m) => m.value!));
        },
      });
      return { close: () => consumer.disconnect() };
    },
    async transformer(input, output, groupId, paceMs = 0) {
      const pace = pacer(paceMs);
      const consumer = kafka.consumer(kafkajsConsumerConfig(groupId));
      const producers = perPartition(async (partition) => {
        const producer = kafka.producer({
          transactionalId: `${groupId}.${input}.${partition}`,
          idempotent: true,
          maxInFlightRequests: 1,
          transactionTimeout: TRANSACTION_TIMEOUT_MS,
        });
        await producer.connect();
        return producer;
      });
      await consumer.connect();
      await consumer.subscribe({ topic: input, fromBeginning: true });
      const state = { transactions: 0 };
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 12,
        eachBatch: async ({ batch }) => {
          const messages = batch.messages;
          if (messages.length === 0) return;
          await pace(batch.partition);
          const txn = await (await producers.get(batch.partition)).transaction();
          try {
            await txn.send({
              topic: output,
              acks: -1,
              messages: messages.map((m) => ({ partition: batch.partition, key: m.key, value: m.value })),
            });
            await txn.sendOffsets({
              consumerGroupId: groupId,
              topics: offsetsAfter(input, batch.partition, messages),
            });
            await txn.commit();
            state.transactions++;
          } catch (err) {
            await txn.abort().catch(() => undefined);
            throw err;
          }
        },
      });
      return {
        get transactions() {
          return state.transactions;
        },
        close: async () => {
          await consumer.disconnect();
          await producers.close((p) => p.disconnect());
        },
      };
    },
  };
}

/** Waits, per partition, until `paceMs` after the previous call for it returned (no wait when 0). */
function pacer(paceMs: number): (partition: number) => Promise<void> {
  const last = new Map<number, number>();
  return async (partition) => {
    if (paceMs > 0) {
      const wait = (last.get(partition) ?? 0) + paceMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    last.set(partition, Date.now());
  };
}

/** One lazily made resource per partition (a transactional producer), made once even when asked twice at once. */
function perPartition<T>(make: (partition: number) => Promise<T>): {
  get(partition: number): Promise<T>;
  close(close: (t: T) => Promise<void>): Promise<void>;
} {
  const made = new Map<number, Promise<T>>();
  return {
    get(partition) {
      let p = made.get(partition);
      if (!p) made.set(partition, (p = make(partition)));
      return p;
    },
    async close(close) {
      await Promise.all([...made.values()].map(async (p) => close(await p).catch(() => undefined)));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// @platformatic/kafka: promise (or callback) API, consumers are streams of single messages

interface PltMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer;
  value: Buffer;
}
interface PltStream {
  on(event: 'data', listener: (m: PltMessage) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  close(): Promise<void>;
}
interface PltConsumer {
  consume(options: Record<string, unknown>): Promise<PltStream>;
  close(force?: boolean): Promise<void>;
}
interface PltTransaction {
  send(options: { messages: Array<{ topic: string } & BenchRecord> }): Promise<unknown>;
  addConsumer(consumer: PltConsumer): Promise<void>;
  addOffset(message: PltMessage): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
interface PltProducer {
  send(options: { messages: Array<{ topic: string } & BenchRecord>; acks?: number }): Promise<unknown>;
  beginTransaction(): Promise<PltTransaction>;
  close(): Promise<void>;
}
interface PltModule {
  Producer: new (options: Record<string, unknown>) => PltProducer;
  Consumer: new (options: Record<string, unknown>) => PltConsumer;
  ProduceAcks: { ALL: number };
  FetchIsolationLevels: { READ_COMMITTED: number };
}

function platformaticClient(brokers: string[]): BenchClient {
  const plt = requireFrom('platformatic')(ON_DEMAND.platformatic.pkg) as PltModule;
  // The platform's kafkajs retry, as near as this client's options go (a fixed delay; its default,
  // 1 s, would cap a transactional producer at one transaction a second: see kafkajsClient).
  const base = { bootstrapBrokers: brokers, retries: 8, retryDelay: 100, timeout: 10_000 };
  const newConsumer = (groupId: string, autocommit: boolean | number): PltConsumer =>
    new plt.Consumer({
      ...base,
      clientId: `bench-plt-${groupId}`,
      groupId,
      autocommit,
      maxWaitTime: FETCH_MAX_WAIT_MS,
      minBytes: FETCH_MIN_BYTES,
      isolationLevel: plt.FetchIsolationLevels.READ_COMMITTED,
    });
  const consume = (consumer: PltConsumer, topic: string): Promise<PltStream> =>
    consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' });
  return {
    async producer() {
      const producer = new plt.Producer({
        ...base,
        clientId: 'bench-plt-producer',
        idempotent: true,
        acks: plt.ProduceAcks.ALL,
      });
      return {
        send: async (topic, records) => {
          await producer.send({ messages: records.map((r) => ({ topic, ...r })) });
        },
        close: () => producer.close(),
      };
    },
    async consumer(topic, groupId, onValues) {
      const consumer = newConsumer(groupId, AUTO_COMMIT_INTERVAL_MS);
      const stream = await consume(consumer, topic);
      // The stream hands over one message at a time; they are passed on per event-loop turn.
      let pending: Buffer[] = [];
      stream.on('data', (m) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push(m.value);
      });
      const flush = (): void => {
        const values = pending;
        pending = [];
        onValues(values);
      };
      stream.on('error', (err) =>
        process.stderr.write(`[kafka-clients] platformatic consumer: ${err.message}\n`),
      );
      return {
        close: async () => {
          await stream.close();
          await consumer.close(true);
        },
      };
    },
    async transformer(input, output, groupId, paceMs = 0) {
      const pace = pacer(paceMs);
      const producers = perPartition(async (partition) =>
        Promise.resolve(
          new plt.Producer({
            ...base,
            clientId: `bench-plt-tx-${partition}`,
            idempotent: true,
            acks: plt.ProduceAcks.ALL,
            transactionalId: `${groupId}.${input}.${partition}`,
          }),
        ),
      );
      const consumer = newConsumer(groupId, false);
      const stream = await consume(consumer, input);
      const state = { transactions: 0, failed: null as Error | null };
      // The stream hands over one message at a time: they are gathered per partition while that
      // partition's transaction runs, then the next transaction takes all gathered so far.
      const buffered = new Map<number, PltMessage[]>();
      const running = new Set<number>(); // partitions with a drain scheduled or under way
      const oneTransaction = async (partition: number, messages: PltMessage[]): Promise<void> => {
        const txn = await (await producers.get(partition)).beginTransaction();
        try {
          await txn.send({
            messages: messages.map((m) => ({
              topic: output,
              partition: m.partition,
              key: m.key,
              value: m.value,
            })),
          });
          await txn.addConsumer(consumer);
          await txn.addOffset(messages[messages.length - 1]);
          await txn.commit();
          state.transactions++;
        } catch (err) {
          await txn.abort().catch(() => undefined);
          throw err;
        }
      };
      const drain = async (partition: number): Promise<void> => {
        try {
          for (;;) {
            const messages = buffered.get(partition);
            if (!messages || messages.length === 0) break;
            await pace(partition); // records keep gathering in `buffered` meanwhile
            const gathered = buffered.get(partition) ?? messages;
            buffered.delete(partition);
            await oneTransaction(partition, gathered);
          }
        } catch (err) {
          state.failed = err as Error;
          process.stderr.write(`[kafka-clients] platformatic transaction: ${(err as Error).message}\n`);
        } finally {
          running.delete(partition);
        }
      };
      stream.on('data', (m) => {
        const list = buffered.get(m.partition);
        if (list) list.push(m);
        else buffered.set(m.partition, [m]);
        if (!running.has(m.partition) && !state.failed) {
          running.add(m.partition);
          setImmediate(() => void drain(m.partition));
        }
      });
      stream.on('error', (err) =>
        process.stderr.write(`[kafka-clients] platformatic transformer: ${err.message}\n`),
      );
      return {
        get transactions() {
          return state.transactions;
        },
        close: async () => {
          await stream.close();
          await consumer.close(true);
          await producers.close((p) => p.close());
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// @confluentinc/kafka-javascript (librdkafka) through its KafkaJS-style API

interface CkBatch {
  partition: number;
  messages: Array<{ key: Buffer | null; value: Buffer | null; offset: string }>;
}
interface CkConsumer {
  connect(): Promise<void>;
  subscribe(options: { topics: string[] }): Promise<void>;
  run(options: {
    partitionsConsumedConcurrently?: number;
    eachBatch: (payload: { batch: CkBatch }) => Promise<void>;
  }): Promise<void>;
  disconnect(): Promise<void>;
}
interface CkProducer {
  connect(): Promise<void>;
  send(options: { topic: string; messages: Array<Partial<BenchRecord>> }): Promise<unknown>;
  transaction(): Promise<CkProducer>;
  sendOffsets(options: {
    consumer: CkConsumer;
    topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;
  }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  disconnect(): Promise<void>;
}
interface CkKafka {
  producer(config: Record<string, unknown>): CkProducer;
  consumer(config: Record<string, unknown>): CkConsumer;
}
interface CkModule {
  KafkaJS: {
    Kafka: new (config: Record<string, unknown>) => CkKafka;
    logLevel: { NOTHING: number };
  };
}

function confluentClient(brokers: string[]): BenchClient {
  const ck = (requireFrom('confluent')(ON_DEMAND.confluent.pkg) as CkModule).KafkaJS;
  const kafka = new ck.Kafka({
    kafkaJS: { clientId: 'bench-confluent', brokers, logLevel: ck.logLevel.NOTHING },
  });
  const newConsumer = (groupId: string, autoCommit: boolean): CkConsumer =>
    kafka.consumer({
      kafkaJS: {
        groupId,
        fromBeginning: true,
        autoCommit,
        autoCommitInterval: AUTO_COMMIT_INTERVAL_MS,
        maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
        minBytes: FETCH_MIN_BYTES,
      },
      // eachBatch hands over up to 32 messages by default; the others hand over what was fetched.
      'js.consumer.max.batch.size': -1,
    });
  return {
    async producer() {
      // librdkafka's own linger (linger.ms, 5 ms) is left as it is: the bench sends one batch
      // every --linger ms and awaits it, as the platform's BatchingProducer does.
      const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
      await producer.connect();
      return {
        send: async (topic, records) => {
          await producer.send({ topic, messages: records });
        },
        close: () => producer.disconnect(),
      };
    },
    async consumer(topic, groupId, onValues) {
      const consumer = newConsumer(groupId, true);
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      await consumer.run({
        partitionsConsumedConcurrently: 12,
        eachBatch: async ({ batch }) => {
          onValues(batch.messages.map((m) => m.value!));
        },
      });
      return { close: () => consumer.disconnect() };
    },
    async transformer(input, output, groupId, paceMs = 0) {
      const pace = pacer(paceMs);
      const producers = perPartition(async (partition) => {
        const producer = kafka.producer({
          kafkaJS: {
            transactionalId: `${groupId}.${input}.${partition}`,
            idempotent: true,
            acks: -1,
            transactionTimeout: TRANSACTION_TIMEOUT_MS,
          },
        });
        await producer.connect();
        return producer;
      });
      const consumer = newConsumer(groupId, false);
      await consumer.connect();
      await consumer.subscribe({ topics: [input] });
      const state = { transactions: 0 };
      await consumer.run({
        partitionsConsumedConcurrently: 12,
        eachBatch: async ({ batch }) => {
          const messages = batch.messages;
          if (messages.length === 0) return;
          await pace(batch.partition);
          const txn = await (await producers.get(batch.partition)).transaction();
          try {
            await txn.send({
              topic: output,
              messages: messages.map((m) => ({
                partition: batch.partition,
                key: m.key ?? undefined,
                value: m.value ?? undefined,
              })),
            });
            await txn.sendOffsets({
              consumer,
              topics: offsetsAfter(input, batch.partition, messages),
            });
            await txn.commit();
            state.transactions++;
          } catch (err) {
            await txn.abort().catch(() => undefined);
            throw err;
          }
        },
      });
      return {
        get transactions() {
          return state.transactions;
        },
        close: async () => {
          await consumer.disconnect();
          await producers.close((p) => p.disconnect());
        },
      };
    },
  };
}
