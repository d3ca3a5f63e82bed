import type { Admin, Kafka } from 'kafkajs';
import { fetchOptions, KafkaProbe } from './kafka-client';

/** A stand-in for kafkajs's admin: counts connections and Metadata requests. */
function fakeKafka(behaviour: { connect?: () => Promise<void>; describe?: () => Promise<unknown> } = {}) {
  const stats = { admins: 0, connects: 0, describes: 0, disconnects: 0 };
  const kafka = {
    admin: () => {
      stats.admins++;
      return {
        connect: async () => {
          stats.connects++;
          await behaviour.connect?.();
        },
        describeCluster: async () => {
          stats.describes++;
          return behaviour.describe ? behaviour.describe() : { brokers: [], controller: 1, clusterId: 'c' };
        },
        disconnect: async () => {
          stats.disconnects++;
        },
      } as unknown as Admin;
    },
  } as Pick<Kafka, 'admin'>;
  return { kafka, stats };
}

describe('KafkaProbe', () => {
  it('keeps one connection across checks: one Metadata request per check, no reconnects', async () => {
    const { kafka, stats } = fakeKafka();
    const probe = new KafkaProbe(kafka);
    for (let i = 0; i < 5; i++) await probe.check(1000);
    expect(stats).toEqual({ admins: 1, connects: 1, describes: 5, disconnects: 0 });
    await probe.onApplicationShutdown();
    expect(stats.disconnects).toBe(1);
  });

  it('drops the connection after a failed check and connects afresh on the next one', async () => {
    let fail = true;
    const { kafka, stats } = fakeKafka({
      describe: async () => {
        if (fail) throw new Error('Connection closed');
        return {};
      },
    });
    const probe = new KafkaProbe(kafka);
    await expect(probe.check(1000)).rejects.toThrow('Connection closed');
    expect(stats.disconnects).toBe(1);
    fail = false;
    await probe.check(1000);
    await probe.check(1000);
    expect(stats).toEqual({ admins: 2, connects: 2, describes: 3, disconnects: 1 });
  });

  it('fails at the timeout when the broker does not answer, then connects afresh', async () => {
    let hang = true;
    const { kafka, stats } = fakeKafka({
      connect: () => (hang ? new Promise(() => undefined) : Promise.resolve()),
    });
    const probe = new KafkaProbe(kafka);
    await expect(probe.check(20)).rejects.toThrow('kafka did not answer within 20 ms');
    hang = false;
    await probe.check(1000);
    expect(stats.admins).toBe(2);
    expect(stats.describes).toBe(1);
  });
});

describe('fetchOptions', () => {
  it('passes the idle wait on, and none for KAFKA_FETCH_IDLE_WAIT_MS=0', () => {
    const base = { KAFKA_FETCH_MAX_WAIT_MS: 20, KAFKA_FETCH_MIN_BYTES: 65_536 };
    expect(fetchOptions({ ...base, KAFKA_FETCH_IDLE_WAIT_MS: 500 })).toEqual({
      maxWaitTimeInMs: 20,
      minBytes: 65_536,
      idleMaxWaitTimeInMs: 500,
    });
    expect(fetchOptions({ ...base, KAFKA_FETCH_IDLE_WAIT_MS: 0 }).idleMaxWaitTimeInMs).toBeUndefined();
  });
});
