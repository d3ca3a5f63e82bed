import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { ExchangeClient, type Credentials, type StreamClient } from './testing/exchange-client';
import { ensureServices, GATEWAY_URL, secret, type RunningServices } from './testing/native-services';
import { openTestMarket } from './testing/test-market';

// The whole platform on the native stack: signed HTTP in, Kafka, matching, settlement,
// PostgreSQL (through PgBouncer), Redis and the WebSocket out. Real processes, no mocks.
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbol = `E${run}-USDT`;
const base = `E${run}`;

type Json = Record<string, unknown>;

/** The gateway's gateway_order_lookup_total for cancels, by source. */
async function cancelLookups(): Promise<{ redis: number; database: number }> {
  const text = await (await fetch(`${GATEWAY_URL}/metrics`)).text();
  const count = (source: string) =>
    Number(
      new RegExp(
        `^gateway_order_lookup_total\\{[^}]*command="cancel"[^}]*source="${source}"[^}]*\\} (\\S+)$`,
        'm',
      ).exec(text)?.[1] ?? 0,
    );
  return { redis: count('redis'), database: count('database') };
}

describe('order pipeline end to end', () => {
  jest.setTimeout(180_000);
  let services: RunningServices;
  let db: DataSource;
  let operator: string;
  let seller: Credentials;
  let buyer: Credentials;
  let sellerId: string;
  let buyerId: string;
  let stream: StreamClient;

  /**
   * Once the router published the order's final state (the update and the delete of the gateway's
   * accepted-order record go in one Redis pipeline, the delete first), a cancel is answered from
   * the database: 409 ORDER_NOT_OPEN.
   */
  const expectCancelRefusedOnceFinal = async (who: Credentials, orderId: string, status: string) => {
    await stream.waitFor(
      (m) =>
        m.type === 'update' &&
        m.channel === 'orders' &&
        (m.data as Json).orderId === orderId &&
        (m.data as Json).status === status,
    );
    const res = await api.signed<{ error: Json }>(who, 'DELETE', `/v1/orders/${orderId}`);
    expect([res.status, res.body.error?.code, res.body.error?.message]).toEqual([
      409,
      'ORDER_NOT_OPEN',
      `order is ${status}`,
    ]);
  };

  const balance = (who: Credentials, asset: string) => api.balance(who, asset);

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
    db = await openTestMarket('e2e', symbol, base);
    const accounts: Credentials[] = [];
    for (const role of ['seller', 'buyer']) {
      const res = await api.operator<{ accountId: string; apiKey: string; secret: string }>(
        operator,
        'POST',
        '/v1/operator/accounts',
        { accountId: `e2e-${role}-${run}`, name: role },
      );
      expect(res.status).toBe(201);
      accounts.push({ apiKey: res.body.apiKey, secret: res.body.secret });
    }
    [seller, buyer] = accounts;
    sellerId = `e2e-seller-${run}`;
    buyerId = `e2e-buyer-${run}`;
    expect(
      (
        await api.operator(operator, 'POST', '/v1/operator/deposits', {
          accountId: sellerId,
          asset: base,
          amount: '2',
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await api.operator(operator, 'POST', '/v1/operator/deposits', {
          accountId: buyerId,
          asset: 'USDT',
          amount: '1000',
        })
      ).status,
    ).toBe(202);
    await api.until('deposits applied', async () =>
      (await balance(buyer, 'USDT'))?.available === '1000' && (await balance(seller, base))?.available === '2'
        ? true
        : undefined,
    );
    // The market catalog reloads every 2 s; wait until the gateway knows the new market.
    await api.marketsListed([symbol]);
    stream = api.stream();
    await stream.auth(buyer);
    await stream.waitFor((m) => m.type === 'authenticated');
    for (const channel of [
      `trades:${symbol}`,
      `depth:${symbol}`,
      `depth:${symbol}@100ms`,
      `ticker:${symbol}`,
      'orders',
    ])
      await stream.send({ op: 'subscribe', channel });
    await stream.waitFor((m) => m.type === 'snapshot' && m.channel === `trades:${symbol}`);
  });

  afterAll(async () => {
    stream?.close();
    await db?.destroy();
    await services?.stop();
  });

  it('rejects an order beyond the account’s funds and holds nothing', async () => {
    const res = await api.signed<Json>(buyer, 'POST', '/v1/orders', {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '100.00',
      quantity: '50',
    });
    expect(res.status).toBe(202);
    const orderId = String(res.body.orderId);
    const order = await api.until('rejection', async () => {
      const r = await api.signed<Json>(buyer, 'GET', `/v1/orders/${orderId}`);
      return r.status === 200 && r.body.status === 'rejected' ? r.body : undefined;
    });
    expect(order).toMatchObject({ status: 'rejected' });
    expect(await balance(buyer, 'USDT')).toEqual({ asset: 'USDT', available: '1000', held: '0' });
    // The router's rejection is final: the gateway's record of the order is gone with it.
    await expectCancelRefusedOnceFinal(buyer, orderId, 'rejected');
  });

  it('matches a crossing pair, settles both sides with fees, and every feed shows the trade', async () => {
    const sell = await api.signed<Json>(seller, 'POST', '/v1/orders', {
      symbol,
      side: 'sell',
      type: 'limit',
      price: '100.00',
      quantity: '0.5',
      clientOrderId: `s-${run}`,
    });
    expect(sell.status).toBe(202);
    await api.until('ask rests', async () => {
      const d = await api.public<{ asks: [string, string, number][] }>(`/v1/markets/${symbol}/depth`);
      return d.body.asks?.length ? true : undefined;
    });
    const buy = await api.signed<Json>(buyer, 'POST', '/v1/orders', {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '101.00',
      quantity: '0.2',
    });
    expect(buy.status).toBe(202);

    // WebSocket: the public trade and the buyer's own order update.
    const trade = await stream.waitFor((m) => m.type === 'update' && m.channel === `trades:${symbol}`);
    expect(trade.data).toMatchObject({ symbol, price: '100', qty: '0.2', takerSide: 'buy' });
    await stream.waitFor(
      (m) =>
        m.type === 'update' &&
        m.channel === 'orders' &&
        (m.data as Json).orderId === buy.body.orderId &&
        (m.data as Json).status === 'filled',
    );

    // REST order states.
    const sellState = await api.until('sell partially filled', async () => {
      const r = await api.signed<Json>(seller, 'GET', `/v1/orders/${String(sell.body.orderId)}`);
      return r.body.status === 'partially_filled' ? r.body : undefined;
    });
    expect(sellState).toMatchObject({ filledQuantity: '0.2' });
    const buyState = await api.signed<Json>(buyer, 'GET', `/v1/orders/${String(buy.body.orderId)}`);
    expect(buyState.body).toMatchObject({ status: 'filled', filledQuantity: '0.2' });
    await expectCancelRefusedOnceFinal(buyer, String(buy.body.orderId), 'filled');

    // The trade row in the database, once.
    const rows = (await db.query(`SELECT price::text, qty::text, taker_side FROM trades WHERE symbol = $1`, [
      symbol,
    ])) as Json[];
    expect(rows).toEqual([{ price: '10000', qty: '2000', taker_side: 'buy' }]);

    // Depth and ticker moved.
    await api.until('depth after trade', async () => {
      const d = await api.public<{ asks: [string, string, number][] }>(`/v1/markets/${symbol}/depth`);
      return d.body.asks?.[0]?.[1] === '0.3' ? true : undefined;
    });
    // The book at a bounded rate carries the same book, whole, in an update after its snapshot.
    const bounded = `depth:${symbol}@100ms`;
    const boundedSnapshot = await stream.waitFor((m) => m.type === 'snapshot' && m.channel === bounded);
    const boundedBook = await stream.waitFor(
      (m) =>
        m.type === 'update' &&
        m.channel === bounded &&
        (m.data as { asks: [string, string, number][] }).asks[0]?.[1] === '0.3',
    );
    expect(Number(boundedBook.seq)).toBeGreaterThan(Number(boundedSnapshot.seq));
    expect(boundedBook.data).toMatchObject({ symbol });
    const ticker = await api.until('ticker', async () => {
      const t = await api.public<{ data: Json }>(`/v1/markets/${symbol}/ticker`);
      return t.body.data?.last === '100' ? t.body.data : undefined;
    });
    expect(ticker).toMatchObject({ last: '100', volume: '0.2' });

    // A 1m candle with the right open, high, low, close and volume.
    const from = new Date(Date.now() - 10 * 60_000).toISOString();
    const candles = await api.public<{ data: Json[] }>(
      `/v1/markets/${symbol}/candles?interval=1m&from=${encodeURIComponent(from)}`,
    );
    expect(candles.body.data).toEqual([
      expect.objectContaining({ open: '100', high: '100', low: '100', close: '100', volume: '0.2' }),
    ]);

    // Money: 0.2 x 100 = 20 USDT; taker (buyer) pays 0.2% = 0.04, maker (seller) 0.1% = 0.02.
    await api.until('seller settled', async () =>
      (await balance(seller, 'USDT'))?.available === '19.98' ? true : undefined,
    );
    expect(await balance(buyer, 'USDT')).toEqual({ asset: 'USDT', available: '979.96', held: '0' });
    expect(await balance(buyer, base)).toEqual({ asset: base, available: '0.2', held: '0' });
    expect(await balance(seller, base)).toEqual({ asset: base, available: '1.5', held: '0.3' });
  });

  const earlyCancelled = {
    symbol,
    side: 'buy',
    type: 'limit',
    price: '1.00',
    quantity: '1',
    clientOrderId: `c-${run}`,
  };
  let earlyCancelledId = '';

  it('cancels an order the moment it was accepted, and only for its owner', async () => {
    const before = await balance(buyer, 'USDT');
    // The router paused: the order is accepted (on Kafka) but certainly not stored yet.
    const router = services.pid('order-router');
    process.kill(router, 'SIGSTOP');
    let paused = true;
    try {
      const placed = await api.signed<Json>(buyer, 'POST', '/v1/orders', earlyCancelled);
      expect(placed.status).toBe(202);
      const orderId = String(placed.body.orderId);
      earlyCancelledId = orderId;
      // No waiting: the router may not have stored the order yet.
      const lookups = await cancelLookups();
      expect((await api.signed(seller, 'DELETE', `/v1/orders/${orderId}`)).status).toBe(404);
      const cancel = await api.signed<Json>(buyer, 'DELETE', `/v1/orders/${orderId}`);
      expect(cancel.status).toBe(202);
      expect(cancel.body).toMatchObject({ orderId, status: 'cancel_requested' });
      // Both answered from the gateway's accepted-order record, neither read PostgreSQL.
      expect(await cancelLookups()).toEqual({ redis: lookups.redis + 2, database: lookups.database });
      process.kill(router, 'SIGCONT');
      paused = false;
      const order = await api.until('the cancellation', async () => {
        const r = await api.signed<Json>(buyer, 'GET', `/v1/orders/${orderId}`);
        return r.status === 200 && r.body.status === 'cancelled' ? r.body : undefined;
      });
      expect(order).toMatchObject({ status: 'cancelled' });
      await expectCancelRefusedOnceFinal(buyer, orderId, 'cancelled');
      await api.until('hold released', async () =>
        (await balance(buyer, 'USDT'))?.held === before?.held ? true : undefined,
      );
      expect(await balance(buyer, 'USDT')).toEqual(before);
    } finally {
      if (paused) process.kill(router, 'SIGCONT');
    }
  });

  it('releases the hold on cancel, and the reconciliation passes', async () => {
    const open = await api.signed<{ data: Json[] }>(seller, 'GET', `/v1/orders?symbol=${symbol}`);
    const resting = open.body.data.find((o) => o.status === 'partially_filled')!;
    expect((await api.signed(seller, 'DELETE', `/v1/orders/${String(resting.orderId)}`)).status).toBe(202);
    await api.until('hold released', async () =>
      (await balance(seller, base))?.held === '0' ? true : undefined,
    );
    expect(await balance(seller, base)).toEqual({ asset: base, available: '1.8', held: '0' });

    const out = execFileSync(
      process.execPath,
      [join(__dirname, '../dist/services/order-router/src/reconcile.main.js')],
      { env: process.env, encoding: 'utf8' },
    );
    expect(out).toContain('"reconciliation":"ok"');
  });

  it('answers 409 to a cancel after a placement retry of a finished order', async () => {
    // The retry (same clientOrderId, so the same order id) writes the gateway's accepted-order
    // record again; the router finds the order stored and deletes the record.
    const retry = await api.signed<Json>(buyer, 'POST', '/v1/orders', earlyCancelled);
    expect([retry.status, retry.body.orderId]).toEqual([202, earlyCancelledId]);
    // A refused withdrawal behind it (same account, same router partition, no money moved): once
    // its update is out, so is the router's batch with the retry.
    const marker = await api.operator<{ commandId: string }>(operator, 'POST', '/v1/operator/withdrawals', {
      accountId: buyerId,
      asset: 'USDT',
      amount: '1000000',
    });
    expect(marker.status).toBe(202);
    await stream.waitFor(
      (m) =>
        m.type === 'update' &&
        m.channel === 'orders' &&
        (m.data as Json).commandId === marker.body.commandId &&
        (m.data as Json).status === 'rejected',
    );
    const res = await api.signed<{ error: Json }>(buyer, 'DELETE', `/v1/orders/${earlyCancelledId}`);
    expect([res.status, res.body.error?.code, res.body.error?.message]).toEqual([
      409,
      'ORDER_NOT_OPEN',
      'order is cancelled',
    ]);
  });
});
