import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { DataSource } from 'typeorm';
import { ExchangeClient, type Credentials, type StreamMessage } from './testing/exchange-client';
import { openTestMarket } from './testing/test-market';
import {
  ensureServices,
  GATEWAY_URL,
  secret,
  SERVICE_PORTS,
  startService,
  stopProcess,
  waitReady,
  type RunningServices,
} from './testing/native-services';

// The own-orders stream a trader can rely on (issue 22 item 1, ADR 0014), on the native platform:
// a client subscribed to its `orders` channel while a few hundred of its orders are placed,
// filled by a counterparty and cancelled over ~10 s; the order-router (the process that numbers
// and produces the stream) is SIGKILLed in the middle and started again. The client applies the
// snapshot and the updates as docs/api.md says (drop seq <= last seen, resync on a gap); its final
// view of open orders and balances equals REST GET /v1/orders?status=<each open status> and GET /v1/balances.
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const BASE = `OS${run}`;
const SYMBOL = `${BASE}-USDT`;
const OPEN = new Set(['pending', 'new', 'partially_filled']);

interface Account extends Credentials {
  accountId: string;
}
interface OrderView {
  orderId: string;
  status: string;
  quantity?: string;
  filledQuantity?: string;
}
interface BalanceView {
  asset: string;
  available: string;
  held: string;
}
type Json = Record<string, unknown>;

/** What a client keeps of its `orders` channel: the snapshot with every update applied. */
class OwnOrdersView {
  readonly orders = new Map<string, OrderView>();
  readonly balances = new Map<string, BalanceView>();
  lastSeq = -1;
  snapshots = 0;
  updates = 0;
  gaps = 0;
  repeats = 0;

  constructor(private readonly resync: () => void) {}

  apply(m: StreamMessage): void {
    if (m.channel !== 'orders') return;
    if (m.type === 'snapshot') {
      const data = m.data as { orders: OrderView[]; balances: BalanceView[] };
      this.orders.clear();
      for (const o of data.orders) this.orders.set(o.orderId, o);
      this.balances.clear();
      for (const b of data.balances) this.balances.set(b.asset, b);
      this.lastSeq = m.seq!;
      this.snapshots += 1;
      return;
    }
    if (m.type !== 'update' || this.lastSeq < 0) return;
    const seq = m.seq!;
    if (seq <= this.lastSeq) {
      this.repeats += 1;
      return;
    }
    if (seq !== this.lastSeq + 1) {
      // A gap: ask for a fresh snapshot and ignore everything until it comes.
      this.gaps += 1;
      this.lastSeq = -1;
      this.resync();
      return;
    }
    this.lastSeq = seq;
    this.updates += 1;
    const u = m.data as Json;
    if (u.type === 'order') {
      const id = String(u.orderId);
      if (!OPEN.has(String(u.status))) this.orders.delete(id);
      else
        this.orders.set(id, {
          ...this.orders.get(id),
          orderId: id,
          status: String(u.status),
          ...(u.quantity !== undefined ? { quantity: String(u.quantity) } : {}),
          ...(u.filledQuantity !== undefined ? { filledQuantity: String(u.filledQuantity) } : {}),
        });
    } else if (u.type === 'balance') {
      this.balances.set(String(u.asset), {
        asset: String(u.asset),
        available: String(u.available),
        held: String(u.held),
      });
    }
  }

  /** Open orders and balances in one comparable shape. */
  state() {
    return {
      orders: [...this.orders.values()]
        .map((o) => [o.orderId, o.status, o.quantity, o.filledQuantity])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      balances: [...this.balances.values()]
        .filter((b) => b.available !== '0' || b.held !== '0')
        .map((b) => [b.asset, b.available, b.held])
        .sort((a, b) => a[0].localeCompare(b[0])),
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the own-orders stream across a SIGKILL of the order-router', () => {
  jest.setTimeout(240_000);
  let services: RunningServices;
  let db: DataSource;
  let operator: string;
  let restarted: ChildProcess | null = null;

  const account = (name: string, deposits: Record<string, string>): Promise<Account> =>
    api.fundedAccount(operator, `os-${run}-${name}`.toLowerCase(), 'own-orders-stream', deposits);

  /** REST's view: every open order (all pages) and the balances, in OwnOrdersView's shape. */
  async function rest(who: Account) {
    const orders: OrderView[] = [];
    for (const status of OPEN) {
      let cursor: string | null = null;
      do {
        const page: { status: number; body: { data: OrderView[]; nextCursor: string | null } } =
          await api.signed(
            who,
            'GET',
            `/v1/orders?status=${status}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
        expect(page.status).toBe(200);
        orders.push(...page.body.data);
        cursor = page.body.nextCursor;
      } while (cursor);
    }
    const b = await api.signed<Json>(who, 'GET', '/v1/balances');
    expect(b.status).toBe(200);
    const balances = b.body.data as BalanceView[];
    return {
      orders: orders
        .map((o) => [o.orderId, o.status, o.quantity, o.filledQuantity])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      balances: balances
        .filter((x) => x.available !== '0' || x.held !== '0')
        .map((x) => [x.asset, x.available, x.held])
        .sort((x, y) => x[0].localeCompare(y[0])),
    };
  }

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
    db = await openTestMarket('own-orders-stream', SYMBOL, BASE);
    await api.marketsListed([SYMBOL]);
  });

  afterAll(async () => {
    if (restarted) await stopProcess(restarted);
    await db?.destroy();
    await services?.stop();
  });

  it('a client’s snapshot plus updates equals REST after a few hundred orders and a SIGKILL of the router', async () => {
    const trader = await account('t', { USDT: '100000', [BASE]: '1000' });
    const other = await account('o', { USDT: '100000', [BASE]: '1000' });

    const stream = api.stream();
    const view = new OwnOrdersView(() => void stream.send({ op: 'resync', channel: 'orders' }));
    let seen = 0;
    const pump = setInterval(() => {
      while (seen < stream.messages.length) view.apply(stream.messages[seen++]);
    }, 5);
    try {
      await stream.auth(trader);
      await stream.waitFor((m) => m.type === 'authenticated');
      await stream.send({ op: 'subscribe', channel: 'orders' });
      await stream.waitFor((m) => m.type === 'snapshot' && m.channel === 'orders');

      // ~10 s of flow: the trader rests buys and sells around 100, the other account takes some
      // of them, the trader cancels some; the router is SIGKILLed after ~4 s.
      const placed: string[] = [];
      const failures: string[] = [];
      const routerPid = services.pid('order-router');
      const startedHere = services.started.includes('order-router');
      let killedAt = 0;
      const t0 = Date.now();
      for (let i = 0; i < 300; i++) {
        if (killedAt === 0 && Date.now() - t0 > 4000) {
          process.kill(routerPid, 'SIGKILL');
          killedAt = Date.now();
          if (startedHere) {
            // Not under a supervisor: started again as the supervisor would.
            restarted = startService('order-router', SERVICE_PORTS['order-router'], '0');
            void waitReady(SERVICE_PORTS['order-router'], restarted, 120_000).catch(() => undefined);
          }
        }
        const side = i % 2 === 0 ? 'buy' : 'sell';
        const price = side === 'buy' ? (99 + (i % 7) * 0.1).toFixed(2) : (100.5 - (i % 7) * 0.1).toFixed(2);
        const res = await api.signed<Json>(trader, 'POST', '/v1/orders', {
          symbol: SYMBOL,
          side,
          type: 'limit',
          price,
          quantity: '0.5',
        });
        if (res.status === 202) placed.push(String(res.body.orderId));
        else failures.push(`${res.status} ${JSON.stringify(res.body)}`);
        if (i % 5 === 4) {
          // The counterparty takes the best of the side it crosses.
          await api.signed(other, 'POST', '/v1/orders', {
            symbol: SYMBOL,
            side: i % 10 === 4 ? 'sell' : 'buy',
            type: 'limit',
            price: i % 10 === 4 ? '99.00' : '100.50',
            quantity: '0.7',
            timeInForce: 'IOC',
          });
        }
        if (i % 6 === 5 && placed.length > 3) {
          const victim = placed[placed.length - 3];
          await api.signed(trader, 'DELETE', `/v1/orders/${victim}`);
        }
        await sleep(Math.max(0, t0 + (i + 1) * 33 - Date.now()));
      }
      expect(killedAt).toBeGreaterThan(0);
      expect(failures.filter((f) => !f.startsWith('503'))).toEqual([]);
      expect(placed.length).toBeGreaterThan(250);

      // The router back (its supervisor, or the restart above), every order decided.
      await api.until(
        'every order decided (none pending)',
        async () => ((await rest(trader)).orders.some((o) => o[1] === 'pending') ? undefined : true),
        120_000,
      );
      // Quiet: REST unchanged over 2 s, then the client has caught up with it.
      let before = JSON.stringify(await rest(trader));
      for (;;) {
        await sleep(2000);
        const now = JSON.stringify(await rest(trader));
        if (now === before) break;
        before = now;
      }
      const expected = await rest(trader);
      await api
        .until(
          'the stream view equal to REST',
          async () => (JSON.stringify(view.state()) === JSON.stringify(expected) ? true : undefined),
          30_000,
        )
        .catch(() => undefined);
      process.stdout.write(
        `[own-orders-stream] ${placed.length} orders, ${view.updates} updates, ${view.snapshots} snapshots, ` +
          `${view.gaps} gaps seen by the client, ${view.repeats} repeats, router killed after ${killedAt - t0} ms\n`,
      );
      const got = view.state();
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        const want = new Map(expected.orders.map((o) => [o[0], JSON.stringify(o)]));
        const have = new Map(got.orders.map((o) => [o[0], JSON.stringify(o)]));
        for (const [id, o] of have)
          if (want.get(id) !== o) {
            const r = await api.signed<Json>(trader, 'GET', `/v1/orders/${id}`);
            const frames = stream.messages.filter((m) => JSON.stringify(m.data ?? '').includes(String(id)));
            process.stdout.write(
              `[own-orders-stream] view ${o} REST ${want.get(id) ?? 'not open'} (${String(r.body.status)} ${String(r.body.filledQuantity)}); frames ${JSON.stringify(frames)}\n`,
            );
          }
      }
      expect(got).toEqual(expected);
      expect(expected.orders.length).toBeGreaterThan(0);
      // The updates went on after the kill: the stream numbered on from what the router committed.
      expect(view.updates).toBeGreaterThan(placed.length);
    } finally {
      clearInterval(pump);
      stream.close();
    }
  });
});
