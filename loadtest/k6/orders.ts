// k6 1.x: the order load (signed, constant arrival rate), public market-data reads and WebSocket
// subscribers, with the targets of issue 9 as thresholds. TypeScript, run natively by k6:
//
//   k6 run -e RATE=5000 -e DURATION=60s -e ACCOUNTS_FILE=accounts.json -e RUN_ID=my-run \
//     -o experimental-prometheus-rw loadtest/k6/orders.ts
//
// (K6_PROMETHEUS_RW_SERVER_URL=http://127.0.0.1:19090/api/v1/write, and
// K6_PROMETHEUS_RW_TREND_STATS=p(95),p(99),max; see loadtest/README.md.)
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import type { Options } from 'k6/options';
import { DEFAULT_MIX, Scenario, streamAuthMessage, type LoadAccount } from '../src/scenario.ts';
import {
  ACCOUNTS,
  BASE_URL,
  DURATION,
  MAX_VUS,
  MD_RATE,
  PREALLOCATED_VUS,
  RATE,
  RUN_ID,
  SYMBOLS,
  WS_SUBSCRIBERS,
  WS_URL,
  durationSeconds,
  k6Hmac,
  loadAccounts,
  send,
} from './common.ts';

const accounts: LoadAccount[] = loadAccounts();

const wsMessages = new Counter('ws_messages');
const wsSubscribed = new Counter('ws_subscriptions');
const wsUpdateAge = new Trend('ws_update_age', true);

export const options: Options = {
  tags: { testid: RUN_ID },
  scenarios: {
    orders: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: PREALLOCATED_VUS,
      maxVUs: MAX_VUS,
      exec: 'orders',
    },
    market_data: {
      executor: 'constant-arrival-rate',
      rate: MD_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(2, Math.ceil(MD_RATE * 0.05)),
      maxVUs: Math.max(8, Math.ceil(MD_RATE * 0.2)),
      exec: 'marketData',
    },
    ws_subscribers: {
      executor: 'per-vu-iterations',
      vus: WS_SUBSCRIBERS,
      iterations: 1,
      maxDuration: `${durationSeconds() + 30}s`,
      exec: 'subscriber',
    },
  },
  thresholds: {
    // Acknowledgement latency of order requests (issue 9: p99 ≤ 50 ms at 5,000/s).
    'http_req_duration{scenario:orders}': ['p(95)<25', 'p(99)<50'],
    'http_req_duration{scenario:market_data}': ['p(95)<50', 'p(99)<100'],
    http_req_failed: ['rate==0'],
    checks: ['rate>0.999'],
    // The arrival rate was held: no iteration was skipped for want of a VU.
    dropped_iterations: ['count==0'],
    ws_subscriptions: [`count>=${WS_SUBSCRIBERS * SYMBOLS.length * 3}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// One scenario state per VU (module scope is per VU): its own open orders to cancel and amend.
let flow: Scenario | undefined;
function vuFlow(): Scenario {
  flow ??= new Scenario({
    accounts,
    symbols: SYMBOLS,
    hmac: k6Hmac,
    runTag: `${RUN_ID}-${exec.vu.idInTest}`.slice(0, 40),
    seed: exec.vu.idInTest,
    mix: DEFAULT_MIX,
  });
  return flow;
}

export function orders(): void {
  const s = vuFlow();
  const planned = s.next(Date.now());
  const res = send(planned.request);
  if (res.status >= 200 && res.status < 300) s.acknowledged(planned, String(res.body), Date.now());
  else s.failed(planned, res.status);
  check(res, {
    'order request acknowledged (202, or 409 for a cancel/amend of an order that just completed)': (r) =>
      r.status === 202 || (r.status === 409 && (planned.kind === 'cancel' || planned.kind === 'amend')),
  });
}

export function marketData(): void {
  const res = send(vuFlow().marketDataRead());
  check(res, { 'market data 200': (r) => r.status === 200 });
}

/** Holds a socket for the run: public channels of every symbol plus the account's own orders. */
export function subscriber(): void {
  const s = vuFlow();
  const account = accounts[(exec.vu.idInTest - 1) % accounts.length];
  const ws = new WebSocket(WS_URL);
  ws.onopen = () => {
    for (const channel of s.streamChannels()) ws.send(JSON.stringify({ op: 'subscribe', channel }));
    ws.send(streamAuthMessage(k6Hmac, account, Date.now()));
    setTimeout(() => ws.close(), durationSeconds() * 1000);
  };
  ws.onmessage = (e) => {
    wsMessages.add(1);
    const msg = JSON.parse(String(e?.data)) as { type?: string; data?: { time?: number } };
    if (msg.type === 'subscribed' || msg.type === 'snapshot') wsSubscribed.add(1);
    if (msg.type === 'authenticated') ws.send(JSON.stringify({ op: 'subscribe', channel: 'orders' }));
    if (typeof msg.data?.time === 'number') wsUpdateAge.add(Date.now() - msg.data.time);
    check(msg, { 'ws message is not an error': (m) => m.type !== 'error' });
  };
  ws.onerror = () => {
    check(null, { 'ws without errors': () => false });
  };
}

export function handleSummary(data: unknown): Record<string, string> {
  const out = `loadtest/reports/k6-${RUN_ID}.json`;
  return {
    [out]: JSON.stringify(data, null, 2),
    stdout: `k6 run ${RUN_ID}: ${RATE}/s for ${DURATION} against ${BASE_URL} (${ACCOUNTS} accounts); summary in ${out}\n`,
  };
}
