// One Kafka hop with three Node.js clients side by side (issue 21, the Kafka client lever):
// kafkajs 2.2.4 as the platform runs it (patches/kafkajs+2.2.4.patch), @platformatic/kafka (pure
// TypeScript) and @confluentinc/kafka-javascript (librdkafka, its KafkaJS-style API).
//
//   npm run bench:kafka-clients -- [--clients kafkajs,platformatic,confluent] [--modes hop,eos]
//     [--rates 1000,5000] [--repeat 2] [--seconds 15] [--warmup 10] [--records 300] [--linger 20]
//     [--tx-pace 100]
//     [--lock /tmp/trading-heavy2.lock] [--no-install] [--first-round 1]
//   npm run bench:kafka-clients -- --summarize loadtest/reports/kafka-clients-<time>.json ...
//     (the summary of earlier invocations' results together, e.g. rounds run one at a time)
//
// Modes (loadtest/src/kafka-client-adapters.ts has each client's settings):
//   hop  an idempotent producer (acks=all, one request at a time, a batch every --linger ms, as
//        bench:floor and the platform's BatchingProducer) sends --records-byte records to a
//        12-partition topic at the rate; a consumer group (read_committed, 20 ms / 64 KiB
//        fetches) reads them back.
//   eos  the same producer feeds the matching worker's loop: a consumer (read_committed, manual
//        offsets) whose every input-partition batch becomes one transaction of that partition's
//        transactional producer (the records to a 12-partition output topic, sendOffsets,
//        commit); a read_committed group reads the output back.
//   eos-paced  the same, but each partition's transaction begins --tx-pace ms (100) after its
//        previous one began: the same number of transactions (and records per transaction)
//        whichever the client, so that the cost per record compares like with like (in eos a
//        client whose transactions end sooner makes more, smaller ones).
//   idle the eos set-up (producer, transformer, reader) after a few seconds of traffic, then
//        nothing to do for --seconds: CPU of the client and of the broker as % of one core
//        (the idle behaviours of ADR 0006's patch: no 1 ms timer, idle fetches that wait).
//        Run once per round at the first rate.
// Each run is one child process holding one client; its CPU (process.cpuUsage: every thread,
// librdkafka's too) and the broker's (/proc) are taken over the measured window (after a warm-up)
// until every record produced in it has been read back, per record produced. Latency: send call
// to consumer callback (the value carries the send time), p50/p99 over the window. Runs are
// interleaved (client after client, for every mode and rate, --repeat rounds); with --lock each
// run holds that lock (flock -o) so that other heavy suites on the box wait for it and it waits
// for them. Needs Kafka up (native/infra.sh up), not the services.
//
// The two clients that are not the repository's are installed on demand, from the lock files
// committed in loadtest/kafka-clients/<name>/ (npm ci --prefix), not by the repository's npm ci;
// @confluentinc/kafka-javascript's prebuilt binary comes from a host these machines cannot
// reach, so it is built from its own sources (CKJS_LINKING=dynamic: the librdkafka bundled in
// the package, against the system's OpenSSL and zlib; needs make, g++, python3 and the Node
// headers, which the project's runtime carries). A client that cannot be installed is reported
// and left out.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { cpuMsOf } from './cpu';
import { CLIENTS, loadClient, ON_DEMAND, type BenchRecord, type ClientName } from './kafka-client-adapters';
import { cheaperBy, LatencySamples, mean, range, stampedValue, stampOf } from './kafka-bench-stats';
import { kafkaBrokers, loadPlatformEnv, pidOf, ROOT } from './platform';

const PARTITIONS = 12;
const MODES = ['hop', 'eos', 'eos-paced', 'idle'] as const;
type Mode = (typeof MODES)[number];

interface ChildSpec {
  client: ClientName;
  mode: Mode;
  rate: number;
  seconds: number;
  warmup: number;
  recordBytes: number;
  lingerMs: number;
  /** eos-paced: ms between the starts of one partition's transactions. */
  txPaceMs: number;
  input: string;
  output: string;
  group: string;
}

interface RunResult {
  client: ClientName;
  mode: Mode;
  rate: number;
  round: number;
  ok: boolean;
  error?: string;
  records: number;
  received: number;
  /** ms of CPU per record produced in the window. */
  clientMs: number;
  brokerMs: number;
  p50: number;
  p99: number;
  /** Wall time of the window: producing, then reading back the rest. */
  windowSeconds: number;
  transactions: number;
}

const log = (s: string): void => void process.stdout.write(`[kafka-clients] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const list = (s: string): string[] =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

// ---------------------------------------------------------------------------------------------
// Installing the on-demand clients

/** The project's runtime directory (bin/node, include/node): node-gyp's headers, offline. */
const nodeDir = (): string => dirname(dirname(process.execPath));

function stampOfInstall(dir: string): string {
  return createHash('sha256')
    .update(readFileSync(join(dir, 'package-lock.json')))
    .update(process.version)
    .digest('hex');
}

/** Installs (when missing or stale) and loads an on-demand client; null when ready, else why not. */
function ensureClient(name: ClientName, lock: string | null): string | null {
  if (name === 'kafkajs') return null;
  const { dir, pkg } = ON_DEMAND[name];
  const marker = join(dir, 'node_modules', '.bench-install');
  const want = stampOfInstall(dir);
  const installed = existsSync(marker) && readFileSync(marker, 'utf8') === want;
  if (!installed) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
    };
    if (name === 'confluent') {
      const missing = ['make', 'g++', 'python3'].filter(
        (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
      );
      if (!existsSync(join(nodeDir(), 'include/node/node.h')))
        missing.push(`Node headers in ${nodeDir()}/include`);
      if (missing.length > 0) return `cannot build ${pkg} from source: missing ${missing.join(', ')}`;
      // The prebuilt binary's host is unreachable here: build from the package's sources, its
      // bundled librdkafka linked dynamically against the system's libraries.
      Object.assign(env, {
        CKJS_LINKING: 'dynamic',
        npm_config_build_from_source: 'true',
        npm_config_nodedir: nodeDir(),
      });
    }
    const logFile = join(tmpdir(), `kafka-clients-install-${name}.log`);
    log(
      `installing ${pkg} into ${dir} (npm ci --prefix; log: ${logFile})${name === 'confluent' ? ', building librdkafka: a minute or two' : ''}`,
    );
    // A build is heavy too: under the lock, when there is one.
    const npm = ['npm', 'ci', '--prefix', dir, '--no-audit', '--no-fund', '--foreground-scripts'];
    const [cmd, ...args] = lock ? ['flock', '-o', lock, ...npm] : npm;
    const res = spawnSync(cmd, args, {
      env,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    writeFileSync(logFile, `${res.stdout ?? ''}${res.stderr ?? ''}`);
    if (res.status !== 0) {
      const tail = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-12).join('\n  ');
      return `npm ci --prefix ${dir} failed (exit ${res.status ?? res.signal}); the end of ${logFile}:\n  ${tail}`;
    }
  }
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(pkg)})`], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (probe.status !== 0)
    return `${pkg} is installed but does not load: ${probe.stderr.trim().split('\n')[0]}`;
  if (!installed) writeFileSync(marker, want);
  return null;
}

// ---------------------------------------------------------------------------------------------
// One measured run (the child process)

async function runChild(spec: ChildSpec): Promise<Omit<RunResult, 'round'>> {
  loadPlatformEnv();
  const broker = pidOf('kafka');
  if (!broker) throw new Error('Kafka is not running: bash native/infra.sh up');
  const client = loadClient(spec.client, kafkaBrokers());
  const samples = new LatencySamples();
  let received = 0;
  const onValues = (values: Buffer[]): void => {
    const now = performance.now();
    for (const v of values) samples.push(now - stampOf(v));
    received += values.length;
  };
  const producer = await client.producer();
  const transformer =
    spec.mode === 'hop'
      ? null
      : await client.transformer(
          spec.input,
          spec.output,
          `${spec.group}-tx`,
          spec.mode === 'eos-paced' ? spec.txPaceMs : 0,
        );
  const consumer = await client.consumer(
    spec.mode === 'hop' ? spec.input : spec.output,
    `${spec.group}-read`,
    onValues,
  );
  const keys = Array.from({ length: 997 }, (_, i) => Buffer.from(String(i)));
  const run = async (seconds: number): Promise<number> => {
    const total = spec.rate * seconds;
    const perTick = Math.ceil((spec.rate * spec.lingerMs) / 1000);
    let sent = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const started = Date.now();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * spec.rate) + perTick);
      const n = due - sent;
      if (n > 0) {
        await inFlight; // one request in flight, like the platform's BatchingProducer
        const now = performance.now();
        const records: BenchRecord[] = Array.from({ length: n }, (_, i) => ({
          partition: (sent + i) % PARTITIONS,
          key: keys[(sent + i) % keys.length],
          value: stampedValue(spec.recordBytes, now),
        }));
        sent += n;
        inFlight = producer.send(spec.input, records);
      }
      await sleep(spec.lingerMs);
    }
    await inFlight;
    return sent;
  };
  const waitFor = async (count: number, timeoutMs: number): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (received < count && Date.now() < deadline) await sleep(10);
    return received >= count;
  };
  const closeClients = async (): Promise<void> => {
    await consumer.close().catch(() => undefined);
    await transformer?.close().catch(() => undefined);
    await producer.close().catch(() => undefined);
  };
  // Warm-up, unmeasured: group joins, connections, JIT (the broker's too).
  await run(spec.warmup);
  if (!(await waitFor(spec.rate * spec.warmup, 60_000)))
    throw new Error(`warm-up: ${received} of ${spec.rate * spec.warmup} records read back within 60 s`);
  if (spec.mode === 'idle') {
    await sleep(3000); // auto-commits, the last transactions' markers
    const b0 = cpuMsOf(broker);
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(spec.seconds * 1000);
    const u = process.cpuUsage(u0);
    const wallMs = performance.now() - t0;
    const brokerMs = cpuMsOf(broker) - b0;
    await closeClients();
    // Idle: clientMs and brokerMs are % of one core over the window.
    return {
      client: spec.client,
      mode: spec.mode,
      rate: spec.rate,
      ok: true,
      records: 0,
      received: 0,
      clientMs: ((u.user + u.system) / 1000 / wallMs) * 100,
      brokerMs: (brokerMs / wallMs) * 100,
      p50: NaN,
      p99: NaN,
      windowSeconds: wallMs / 1000,
      transactions: 0,
    };
  }
  samples.clear();
  const target = received + spec.rate * spec.seconds;
  const b0 = cpuMsOf(broker);
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const tx0 = transformer?.transactions ?? 0;
  const records = await run(spec.seconds);
  const caughtUp = await waitFor(target, 30_000);
  const u = process.cpuUsage(u0);
  const brokerMs = cpuMsOf(broker) - b0;
  const windowSeconds = (performance.now() - t0) / 1000;
  const transactions = (transformer?.transactions ?? 0) - tx0;
  const got = received - (target - spec.rate * spec.seconds);
  await closeClients();
  return {
    client: spec.client,
    mode: spec.mode,
    rate: spec.rate,
    ok: caughtUp,
    error: caughtUp ? undefined : `only ${got} of ${records} records read back within 30 s of the last send`,
    records,
    received: got,
    clientMs: (u.user + u.system) / 1000 / records,
    brokerMs: brokerMs / records,
    p50: samples.percentile(50),
    p99: samples.percentile(99),
    windowSeconds,
    transactions,
  };
}

// ---------------------------------------------------------------------------------------------
// The driver (the parent process)

async function withTopics<T>(mode: Mode, fn: (input: string, output: string) => Promise<T>): Promise<T> {
  const kafka = new Kafka({ clientId: 'bench-admin', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const id = randomUUID().slice(0, 8);
  const input = `kbench.${id}.in`;
  const output = `kbench.${id}.out`;
  const topics = mode === 'hop' ? [input] : [input, output];
  const replicationFactor = Number(process.env.KAFKA_REPLICATION_FACTOR ?? 1);
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor })),
      waitForLeaders: true,
    });
    return await fn(input, output);
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

function spawnRun(spec: ChildSpec, lock: string | null): Promise<Omit<RunResult, 'round'>> {
  const node = [
    process.execPath,
    '--max-semi-space-size=32',
    '-r',
    '@swc-node/register',
    __filename,
    '--child',
  ];
  const [cmd, ...args] = lock ? ['flock', '-o', lock, ...node] : node;
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BENCH_CHILD: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) resolve(JSON.parse(line.slice('RESULT '.length)) as Omit<RunResult, 'round'>);
      else
        resolve({
          client: spec.client,
          mode: spec.mode,
          rate: spec.rate,
          ok: false,
          error: `child exited ${code}: ${out.trim().split('\n').slice(-3).join(' | ')}`,
          records: 0,
          received: 0,
          clientMs: NaN,
          brokerMs: NaN,
          p50: NaN,
          p99: NaN,
          windowSeconds: NaN,
          transactions: 0,
        });
    });
  });
}

const f3 = (n: number): string => (Number.isFinite(n) ? n.toFixed(4) : '–');
const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '–');

function summary(results: RunResult[], clients: ClientName[], modes: Mode[], rates: number[]): string {
  const loaded = modes.filter((m) => m !== 'idle');
  const rows =
    loaded.length === 0
      ? []
      : [
          '| mode | rate/s | client | runs ok | client CPU ms/record | broker CPU ms/record | client + broker | vs kafkajs (client + broker, mean) | client only vs kafkajs | p50 ms | p99 ms | transactions/s |',
          '| ---- | -----: | ------ | ------: | -------------------: | -------------------: | --------------: | ---------------------------------: | ---------------------: | -----: | -----: | -------------: |',
        ];
  for (const mode of loaded)
    for (const rate of rates) {
      const of = (c: ClientName): RunResult[] =>
        results.filter((r) => r.mode === mode && r.rate === rate && r.client === c && r.ok);
      const base = of('kafkajs');
      const baseTotal = mean(base.map((r) => r.clientMs + r.brokerMs));
      const baseClient = mean(base.map((r) => r.clientMs));
      for (const c of clients) {
        const all = results.filter((r) => r.mode === mode && r.rate === rate && r.client === c);
        const ok = of(c);
        const total = mean(ok.map((r) => r.clientMs + r.brokerMs));
        const pct = (x: number): string =>
          !Number.isFinite(x)
            ? '–'
            : x >= 0
              ? `${Math.round(x * 100)} % cheaper`
              : `${Math.round(-x * 100)} % dearer`;
        rows.push(
          `| ${mode} | ${rate} | ${c} | ${ok.length}/${all.length} | ${range(
            ok.map((r) => r.clientMs),
            3,
          )} | ${range(
            ok.map((r) => r.brokerMs),
            3,
          )} | ${range(
            ok.map((r) => r.clientMs + r.brokerMs),
            3,
          )} | ${c === 'kafkajs' ? '–' : pct(cheaperBy(baseTotal, total))} | ${
            c === 'kafkajs' ? '–' : pct(cheaperBy(baseClient, mean(ok.map((r) => r.clientMs))))
          } | ${range(
            ok.map((r) => r.p50),
            1,
          )} | ${range(
            ok.map((r) => r.p99),
            1,
          )} | ${
            mode !== 'hop'
              ? range(
                  ok.map((r) => r.transactions / r.windowSeconds),
                  0,
                )
              : '–'
          } |`,
        );
      }
    }
  if (modes.includes('idle')) {
    rows.push(
      '',
      '| idle (after traffic) | runs | client, % of a core | broker, % of a core |',
      '| -------------------- | ---: | ------------------: | ------------------: |',
    );
    for (const c of clients) {
      const ok = results.filter((r) => r.mode === 'idle' && r.client === c && r.ok);
      rows.push(
        `| ${c} | ${ok.length} | ${range(
          ok.map((r) => r.clientMs),
          2,
        )} | ${range(
          ok.map((r) => r.brokerMs),
          2,
        )} |`,
      );
    }
  }
  return rows.join('\n');
}

interface ReportFile {
  versions: string[];
  node: string;
  unavailable: string[];
  results: RunResult[];
}

function summarizeFiles(files: string[]): void {
  const reports = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as ReportFile);
  const results = reports.flatMap((r, i) => r.results.map((x) => ({ ...x, round: x.round + i * 1000 })));
  const clients = CLIENTS.filter((c) => results.some((r) => r.client === c));
  const modes = MODES.filter((m) => results.some((r) => r.mode === m));
  const rates = [...new Set(results.filter((r) => r.mode !== 'idle').map((r) => r.rate))].sort(
    (a, b) => a - b,
  );
  log(
    `${files.length} file(s): ${[...new Set(reports.flatMap((r) => r.versions))].join(', ')}; Node ${reports[0]?.node}`,
  );
  process.stdout.write(`\n${summary(results, clients, modes, rates)}\n\n`);
  for (const u of new Set(reports.flatMap((r) => r.unavailable))) log(`not measured: ${u}`);
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--summarize');
  if (at >= 0) {
    summarizeFiles(process.argv.slice(at + 1).filter((a) => !a.startsWith('--')));
    return;
  }
  loadPlatformEnv();
  if (!pidOf('kafka')) throw new Error('Kafka is not running: bash native/infra.sh up');
  const wanted = list(arg('clients', CLIENTS.join(','))) as ClientName[];
  for (const c of wanted)
    if (!CLIENTS.includes(c)) throw new Error(`unknown client ${c} (${CLIENTS.join(', ')})`);
  const modes = list(arg('modes', MODES.join(','))) as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m} (${MODES.join(', ')})`);
  const rates = list(arg('rates', '1000,5000')).map(Number);
  const repeat = Number(arg('repeat', '2'));
  // Rounds run as separate invocations (each under its own lock) continue the numbering, and so
  // the alternation of the clients' order.
  const firstRound = Number(arg('first-round', '1'));
  const lock = process.argv.includes('--lock') ? arg('lock', '') : null;
  const base = {
    seconds: Number(arg('seconds', '15')),
    warmup: Number(arg('warmup', '10')),
    recordBytes: Number(arg('records', '300')),
    lingerMs: Number(arg('linger', '20')),
    txPaceMs: Number(arg('tx-pace', '100')),
  };

  const clients: ClientName[] = [];
  const unavailable: string[] = [];
  for (const c of wanted) {
    const why = process.argv.includes('--no-install') && c !== 'kafkajs' ? null : ensureClient(c, lock);
    if (why) {
      unavailable.push(`${c}: ${why}`);
      log(`${c} is left out: ${why}`);
    } else clients.push(c);
  }
  const versions = clients.map((c) => {
    const dir = c === 'kafkajs' ? ROOT : ON_DEMAND[c].dir;
    const pkg = c === 'kafkajs' ? 'kafkajs' : ON_DEMAND[c].pkg;
    const v = (
      JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }
    ).version;
    return `${pkg} ${v}`;
  });
  log(
    `${versions.join(', ')}; Node ${process.version}; ${modes.join('+')} at ${rates.join(', ')}/s, ${base.recordBytes}-byte records, ${base.warmup} s warm-up + ${base.seconds} s measured, ${repeat} round(s)${lock ? `, each run under flock -o ${lock}` : ''}`,
  );

  const results: RunResult[] = [];
  for (let round = firstRound; round < firstRound + repeat; round++)
    for (const mode of modes)
      for (const rate of mode === 'idle' ? rates.slice(0, 1) : rates)
        for (const client of round % 2 === 1 ? clients : [...clients].reverse()) {
          const r = await withTopics(mode, (input, output) =>
            spawnRun(
              { client, mode, rate, ...base, input, output, group: `kbench-${randomUUID().slice(0, 8)}` },
              lock,
            ),
          );
          const result = { ...r, round };
          results.push(result);
          if (mode === 'idle')
            log(
              `round ${round} idle ${client}: ${result.ok ? `client ${result.clientMs.toFixed(2)} %, broker ${result.brokerMs.toFixed(2)} % of a core` : `FAILED (${result.error})`}`,
            );
          else
            log(
              `round ${round} ${mode} ${rate}/s ${client}: ${result.ok ? 'ok' : `FAILED (${result.error})`}; ${result.received}/${result.records} records; CPU ms/record client ${f3(result.clientMs)}, broker ${f3(result.brokerMs)}; latency p50 ${f1(result.p50)} ms, p99 ${f1(result.p99)} ms${mode === 'hop' ? '' : `; ${result.transactions} transactions`}`,
            );
        }
  const reportDir = join(ROOT, 'loadtest/reports');
  mkdirSync(reportDir, { recursive: true });
  const file = join(reportDir, `kafka-clients-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ versions, node: process.version, base, unavailable, results }, null, 2),
  );
  process.stdout.write(`\n${summary(results, clients, modes, rates)}\n\n`);
  for (const u of unavailable) log(`not measured: ${u}`);
  log(`raw results: ${file}`);
}

if (process.argv.includes('--child')) {
  runChild(JSON.parse(process.env.KAFKA_BENCH_CHILD ?? '{}') as ChildSpec)
    .then((r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      // librdkafka's and the group clients' handles may keep the loop alive a while: not measured.
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stdout.write(
        `child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(2);
    });
} else {
  main().catch((err: unknown) => {
    process.stderr.write(
      `[kafka-clients] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(2);
  });
}
