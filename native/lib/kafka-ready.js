'use strict';
// Readiness probe of the native Kafka broker, run by native/lib/kafka.sh:
// a transactional produce to `_platform.readiness`, then a read-committed consume of that
// very record. Exit 0 when it came back, 1 otherwise (the caller retries).
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { Kafka, logLevel } = require('kafkajs');

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:19092').split(',');
const topic = '_platform.readiness';
const timeoutMs = Number(process.env.KAFKA_READY_TIMEOUT_MS || 30000);
// The number of nodes (native/lib/kafka.sh): a three-node cluster is ready once all three take replicas.
const replicationFactor = Number(process.env.KAFKA_READY_REPLICATION || 1);

async function main() {
  const kafka = new Kafka({
    clientId: 'infra-readiness',
    brokers,
    logLevel: process.env.KAFKA_READY_DEBUG ? logLevel.INFO : logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 15000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3000 },
  });

  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: 1,
            replicationFactor,
            configEntries: [{ name: 'retention.ms', value: '3600000' }],
          },
        ],
      });
    }
  } finally {
    await admin.disconnect();
  }

  const marker = `ready-${process.pid}-${Date.now()}`;
  const producer = kafka.producer({
    transactionalId: 'infra-readiness',
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  let offset;
  try {
    const txn = await producer.transaction();
    try {
      const [meta] = await txn.send({ topic, acks: -1, messages: [{ key: 'readiness', value: marker }] });
      offset = meta.baseOffset;
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      throw err;
    }
  } finally {
    await producer.disconnect();
  }

  const consumer = kafka.consumer({
    groupId: 'infra-readiness',
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise((resolve, reject) => {
      consumer
        .run({
          autoCommit: true,
          eachMessage: async ({ message }) => {
            if (message.value && message.value.toString() === marker) resolve();
          },
        })
        .then(() => consumer.seek({ topic, partition: 0, offset: String(offset) }))
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

const timer = setTimeout(() => {
  console.error(`kafka-ready: no round trip within ${timeoutMs} ms`);
  process.exit(1);
}, timeoutMs);

main()
  .then(() => {
    clearTimeout(timer);
    process.exit(0);
  })
  .catch((err) => {
    console.error(`kafka-ready: ${err && err.message ? err.message : err}`);
    process.exit(1);
  });
