// First: native/.run/env into process.env, before the helpers read ports and offsets from it.
import '../jest/load-native-env';
import { parseArgs } from 'node:util';
import { brokerLossScenario, summary as brokerLossSummary } from './broker-loss';
import {
  FAULT_KINDS,
  PAIRED_FAULTS,
  parseFaults,
  SLOW_FAULT_KINDS,
  SOAK_RUN,
  runChaos,
  summarize,
  type ChaosOptions,
  type ChaosReport,
} from './scenario';

// `npm run chaos -- [--duration 120s] [--rate 60] [--faults all|pairs|postgres|kafka,redis+api-gateway,...]
// [--brokers 1|3] [--order-types] [--soak]` (every order type in the load mix, not only limit and IOC):
// the longer crash-recovery run (scripts/chaos/scenario.ts). Prints a summary and exits 1 when
// the reconciliation finds anything off. Needs `bash native/infra.sh up` and a build (dist/).
// The services log at warn; SERVICE_LOG_LEVEL=info keeps their assignments and replays too.
const USAGE = `usage: npm run chaos -- [--duration 120s] [--rate 60] [--faults LIST] [--accounts 6] [--symbols 2]
                      [--downtime 2s] [--brokers 1|3] [--order-types] [--soak]
  --soak     the soak: ${SOAK_RUN.durationMs / 60_000} min at ${SOAK_RUN.rate} orders/s over ${SOAK_RUN.symbols} symbols, one fault a minute from
             0:${SOAK_RUN.warmupMs! / 1000} (${SOAK_RUN.faults.join(', ')}); the other flags override
  --faults   comma-separated, run in order (default all):
             kinds      ${[...FAULT_KINDS, ...SLOW_FAULT_KINDS].join(', ')}
             a+b        two kinds SIGKILLed at the same moment, e.g. ${PAIRED_FAULTS.join(', ')}
             all        every kind once (postgres included); pairs: ${PAIRED_FAULTS.join(',')}
             e.g. --faults postgres   --faults pairs   --faults all,pairs`;

/** "120s", "2m", "1m30s", "500ms" or plain seconds, in milliseconds. */
export function parseDuration(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m)/g;
  let total = 0;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    matched += m[0];
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
  }
  if (matched !== text || total <= 0) throw new Error(`bad duration ${JSON.stringify(text)} (like 120s, 2m)`);
  return total;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      faults: { type: 'string' },
      accounts: { type: 'string' },
      symbols: { type: 'string' },
      downtime: { type: 'string' },
      soak: { type: 'boolean', default: false },
      brokers: { type: 'string', default: '1' },
      'order-types': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const soak = values.soak ? SOAK_RUN : undefined;
  const options: ChaosOptions = {
    ...soak,
    durationMs: values.duration ? parseDuration(values.duration) : (soak?.durationMs ?? 120_000),
    rate: Number(values.rate ?? soak?.rate ?? 60),
    faults: values.faults ? parseFaults(values.faults) : (soak?.faults ?? parseFaults('all')),
    accounts: Number(values.accounts ?? soak?.accounts ?? 6),
    symbols: Number(values.symbols ?? soak?.symbols ?? 2),
    downtimeMs: values.downtime ? parseDuration(values.downtime) : (soak?.downtimeMs ?? 2000),
    orderTypes: values['order-types'],
    log: (m) => process.stdout.write(`[chaos] ${m}\n`),
  };
  if (!(options.rate > 0)) throw new Error(`--rate must be a positive number\n${USAGE}`);
  if (values.brokers === '3') {
    // The 3-broker drill (KAFKA_NODES=3 bash native/infra.sh up): one broker SIGKILLed under load.
    const result = await brokerLossScenario({
      durationSec: options.durationMs / 1000,
      rate: options.rate,
      log: options.log,
    });
    process.stdout.write(`${brokerLossSummary(result)}\n`);
    return result.ok ? 0 : 1;
  }
  if (values.brokers !== '1') throw new Error(`--brokers must be 1 or 3\n${USAGE}`);
  const report: ChaosReport = await runChaos(options);
  process.stdout.write(`${summarize(report)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
