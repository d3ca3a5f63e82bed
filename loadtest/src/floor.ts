// The floor under the platform on this machine: what the building blocks cost when they do
// nothing else, measured side by side with the platform's own figures (npm run load) so the
// distance to the issue-9 target can be read per block.
//
//   npm run bench:floor -- [--rate 5000] [--seconds 15] [--records 300] [--linger 20]
//
// 1. HTTP: a bare Fastify app (the gateway's Fastify, the services' Node flags) answering
//    POST /v1/orders with 202 and a small JSON body, driven by vegeta as `npm run load` drives
//    the gateway (constant rate, keep-alive, one connection per worker, rate/10 workers).
//    CPU of the server and of vegeta per request.
// 2. One Kafka hop: kafkajs producing `--records`-byte records (acks=all, one request in flight,
//    a batch every `--linger` ms) to a 12-partition topic and a kafkajs consumer (eachBatch,
//    fetches of up to 20 ms / 64 KB, the matching worker's setting) reading them back, at the
//    same rate. CPU of this client process and of the broker per record.
//
// CPU is utime+stime from /proc (2 vCPU: 2,000 ms of CPU per second in all). Needs the native
// infrastructure up (Kafka), not the services; run it on a quiet machine.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { cpuMsOf, exitedChildrenCpuMs } from './cpu';
import { kafkaBrokers, loadPlatformEnv, pidOf, ROOT } from './platform';
import { ensureVegeta } from './run-load';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const RATE = Number(arg('rate', '5000'));
const SECONDS = Number(arg('seconds', '15'));
const RECORD_BYTES = Number(arg('records', '300'));
const LINGER_MS = Number(arg('linger', '20'));

const exited = (c: ChildProcess): Promise<number | null> =>
  new Promise((r) => c.once('exit', (code) => r(code)));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SERVER = `
const fastify = require(${JSON.stringify(join(ROOT, 'node_modules/@nestjs/platform-fastify/node_modules/fastify'))})({ logger: false });
fastify.post('/v1/orders', async (req, reply) => { reply.code(202); return { orderId: '0b4f6c2e-8f53-4c3e-9a39-5f1d7f0e2a61', clientOrderId: null, status: 'pending' }; });
fastify.listen({ port: 0, host: '127.0.0.1' }).then((a) => process.send(a));
`;

async function httpFloor(): Promise<{ server: number; vegeta: number; ok: number; p99: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'floor-'));
  writeFileSync(join(dir, 'server.js'), SERVER);
  const body = JSON.stringify({
    symbol: 'BTC-USDT',
    side: 'buy',
    type: 'limit',
    price: '30000.00',
    qty: '0.001',
    tif: 'GTC',
    clientOrderId: randomUUID(),
  });
  writeFileSync(join(dir, 'body.json'), body);
  const server = spawn(process.execPath, ['--max-semi-space-size=32', join(dir, 'server.js')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const address = await new Promise<string>((r) => server.once('message', (m) => r(String(m))));
  const vegeta = ensureVegeta();
  // Warm-up, unmeasured.
  await runVegeta(vegeta, address, dir, Math.min(RATE, 2000), 3);
  const s0 = cpuMsOf(server.pid!);
  const c0 = exitedChildrenCpuMs();
  const report = await runVegeta(vegeta, address, dir, RATE, SECONDS);
  const vegetaMs = exitedChildrenCpuMs() - c0;
  const serverMs = cpuMsOf(server.pid!) - s0;
  server.kill();
  await exited(server);
  const ok = report.ok;
  return { server: serverMs / ok, vegeta: vegetaMs / ok, ok, p99: report.p99 };
}

async function runVegeta(
  vegeta: string,
  address: string,
  dir: string,
  rate: number,
  seconds: number,
): Promise<{ ok: number; p99: string }> {
  const attack = spawn(
    vegeta,
    [
      'attack',
      `-rate=${rate}`,
      `-duration=${seconds}s`,
      `-max-workers=${Math.max(50, Math.ceil(rate / 10))}`,
      `-output=${join(dir, 'results.bin')}`,
    ],
    { stdio: ['pipe', 'inherit', 'inherit'] },
  );
  attack.stdin!.end(
    `POST ${address}/v1/orders\nContent-Type: application/json\n@${join(dir, 'body.json')}\n`,
  );
  await exited(attack);
  const rep = spawn(vegeta, ['report', '-type=json', join(dir, 'results.bin')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  rep.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await exited(rep);
  const r = JSON.parse(out) as { status_codes: Record<string, number>; latencies: { '99th': number } };
  return { ok: r.status_codes['202'] ?? 0, p99: `${(r.latencies['99th'] / 1e6).toFixed(1)} ms` };
}

async function kafkaFloor(): Promise<{ client: number; broker: number; records: number }> {
  loadPlatformEnv();
  const broker = pidOf('kafka');
  if (!broker) throw new Error('Kafka is not running: bash native/infra.sh up');
  const kafka = new Kafka({ clientId: 'floor', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const topic = `floor.${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 12, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({
    groupId: `floor-${randomUUID()}`,
    maxWaitTimeInMs: 20,
    minBytes: 65_536,
  });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: true });
  let received = 0;
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) if (m.value) received++;
    },
  });
  const value = 'x'.repeat(RECORD_BYTES);
  const run = async (seconds: number): Promise<number> => {
    const total = RATE * seconds;
    const perTick = Math.ceil((RATE * LINGER_MS) / 1000);
    let sent = 0;
    let inFlight: Promise<unknown> = Promise.resolve();
    const started = Date.now();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * RATE) + perTick);
      const n = due - sent;
      if (n > 0) {
        const messages = Array.from({ length: n }, (_, i) => ({ key: String((sent + i) % 997), value }));
        sent += n;
        await inFlight; // one request in flight, like the platform's BatchingProducer
        inFlight = producer.send({ topic, acks: -1, messages });
      }
      await sleep(LINGER_MS);
    }
    await inFlight;
    return sent;
  };
  // Warm-up, unmeasured: a freshly started broker (JIT) costs ~4x per record for its first seconds.
  await run(10);
  while (received < RATE * 10) await sleep(50);
  const target = received + RATE * SECONDS;
  const b0 = cpuMsOf(broker);
  const u0 = process.cpuUsage();
  const records = await run(SECONDS);
  while (received < target) await sleep(20);
  const u = process.cpuUsage(u0);
  const brokerMs = cpuMsOf(broker) - b0;
  await consumer.disconnect();
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  return { client: (u.user + u.system) / 1000 / records, broker: brokerMs / records, records };
}

async function main(): Promise<void> {
  const f = (n: number): string => `${n.toFixed(3)} ms`;
  process.stdout.write(`[floor] ${RATE}/s for ${SECONDS} s on this machine\n`);
  const http = await httpFloor();
  process.stdout.write(
    `[floor] HTTP (bare Fastify + vegeta): ${http.ok} requests answered 202, client p99 ${http.p99}; CPU per request: server ${f(http.server)}, vegeta ${f(http.vegeta)}\n`,
  );
  const hop = await kafkaFloor();
  process.stdout.write(
    `[floor] one Kafka hop (kafkajs produce acks=all every ${LINGER_MS} ms + consume, ${RECORD_BYTES}-byte records): ${hop.records} records; CPU per record: client ${f(hop.client)}, broker ${f(hop.broker)}\n`,
  );
  const budget = 2000 / RATE;
  process.stdout.write(
    `[floor] budget at ${RATE}/s on 2 cores: ${f(budget)} of CPU per order; HTTP alone takes ${f(http.server + http.vegeta)} (${Math.round(((http.server + http.vegeta) / budget) * 100)} %), each Kafka record hop ${f(hop.client + hop.broker)}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `[floor] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(2);
});
