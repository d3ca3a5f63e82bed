import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { databaseSchema, kafkaSchema, loadConfig } from '@trading/config';
import { parseDecimal } from '@trading/contracts';
import { createDataSource, MarketsRepository } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { ChaosLoad, type LoadAccount } from './chaos/load';
import { drain, reconcile, sequencedEnds } from './chaos/reconcile';
import { openMarkets } from './chaos/scenario';
import { ExchangeClient, type Credentials } from './testing/exchange-client';
import { ensureServices, GATEWAY_URL, secret, type RunningServices } from './testing/native-services';

// Every order type end to end through signed REST /v1 on the native platform (issue 22 item 2):
// stops placed, triggered by trades and filled; an iceberg's refills in depth; FOK whole or
// nothing; post-only rested or refused; every STP mode between two orders of one account; market
// orders bounded by a protection price or a quote budget. Each with its holds and releases checked
// against GET /v1/balances and the ledger (GET /v1/ledger). Then the load mix with every order type
// (scripts/chaos/load.ts, `orderTypes`) and the chaos reconciliation over it.
//
// Markets: tick 0.01, lot 0.0001, minimum notional 1, fees maker 10 / taker 20 bps. A buy holds,
// per lot, its worst price plus the dearer fee (20 bps) rounded up per lot: at prices that are
// multiples of 5.00 that is exactly price x quantity x 1.002.
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const USDT_DECIMALS = 6;
const BASE_DECIMALS = 8;

type Json = Record<string, unknown>;
interface Account extends Credentials {
  accountId: string;
}
interface LedgerItem {
  id: string;
  asset: string;
  availableDelta: string;
  heldDelta: string;
  kind: string;
  ref: string;
}

/** A decimal string (maybe negative) in the asset's smallest unit. */
function units(dec: string, decimals: number): bigint {
  const negative = dec.startsWith('-');
  const v = parseDecimal(negative ? dec.slice(1) : dec, decimals);
  if (v === null) throw new Error(`not a decimal: ${dec}`);
  return negative ? -v : v;
}

describe('every order type end to end (signed REST /v1)', () => {
  jest.setTimeout(240_000);
  let services: RunningServices;
  let db: DataSource;
  let operator: string;
  let accountSeq = 0;
  const markets = new Map<string, { symbol: string; base: string }>();

  /** A fresh market per scenario, so no book is shared. */
  const market = (name: string) => markets.get(name)!;

  const account = (deposits: Record<string, string>): Promise<Account> =>
    api.fundedAccount(operator, `ot-${run}-${++accountSeq}`, 'order-types', deposits);

  async function place(who: Account, body: Json): Promise<string> {
    const res = await api.signed<Json>(who, 'POST', '/v1/orders', body);
    expect([res.status, res.body]).toEqual([202, expect.objectContaining({ status: 'pending' })]);
    return String(res.body.orderId);
  }

  /** Waits until the order has `status` (and, if given, `filledQuantity`); returns it. */
  async function settled(who: Account, orderId: string, status: string, filledQuantity?: string) {
    return api.until(`order ${orderId} ${status}`, async () => {
      const r = await api.signed<Json>(who, 'GET', `/v1/orders/${orderId}`);
      return r.status === 200 &&
        r.body.status === status &&
        (filledQuantity === undefined || r.body.filledQuantity === filledQuantity)
        ? r.body
        : undefined;
    });
  }

  /** The account's whole ledger of one asset, oldest first. */
  async function ledger(who: Account, asset: string): Promise<LedgerItem[]> {
    const items: LedgerItem[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: Json } = await api.signed<Json>(
        who,
        'GET',
        `/v1/ledger?asset=${asset}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      expect(res.status).toBe(200);
      items.push(...((res.body.data ?? res.body.items) as LedgerItem[]));
      cursor = (res.body.nextCursor as string | null | undefined) ?? null;
    } while (cursor);
    return items.reverse();
  }

  /**
   * The balance as GET /v1/balances shows it, once it equals `available`/`held`; then the ledger
   * replayed gives the same balance, and its hold and release entries are `holds`/`releases`
   * (amounts, in order). Returns the ledger.
   */
  async function money(
    who: Account,
    asset: string,
    decimals: number,
    expected: { available: string; held: string; holds?: string[]; releases?: string[] },
  ): Promise<LedgerItem[]> {
    const check = async (): Promise<LedgerItem[]> => {
      const b = await api.balance(who, asset);
      expect(b).toEqual({ asset, available: expected.available, held: expected.held });
      const items = await ledger(who, asset);
      const sum = (f: 'availableDelta' | 'heldDelta') =>
        items.reduce((n, e) => n + units(e[f], decimals), 0n);
      expect([sum('availableDelta'), sum('heldDelta')]).toEqual([
        units(expected.available, decimals),
        units(expected.held, decimals),
      ]);
      if (expected.holds)
        expect(items.filter((e) => e.kind === 'hold').map((e) => e.heldDelta)).toEqual(expected.holds);
      if (expected.releases)
        expect(items.filter((e) => e.kind === 'release').map((e) => e.availableDelta)).toEqual(
          expected.releases,
        );
      // A hold or a release moves between available and held, nothing else.
      for (const e of items.filter((x) => x.kind === 'hold' || x.kind === 'release'))
        expect(units(e.availableDelta, decimals)).toBe(-units(e.heldDelta, decimals));
      return items;
    };
    // Settlement is asynchronous: poll until it holds, then check once more for the message.
    await api
      .until(`${who.accountId} ${asset} as expected`, () => check().catch(() => undefined), 15_000)
      .catch(() => undefined);
    const items = await check();
    return items;
  }

  const depth = async (symbol: string) =>
    (
      await api.public<{ bids: [string, string, number][]; asks: [string, string, number][] }>(
        `/v1/markets/${symbol}/depth`,
      )
    ).body;

  async function depthIs(symbol: string, want: { bids?: unknown[]; asks?: unknown[] }) {
    return api
      .until(
        `depth of ${symbol}`,
        async () => {
          const d = await depth(symbol);
          return (want.bids === undefined || JSON.stringify(d.bids) === JSON.stringify(want.bids)) &&
            (want.asks === undefined || JSON.stringify(d.asks) === JSON.stringify(want.asks))
            ? d
            : undefined;
        },
        15_000,
      )
      .catch(async (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(await depth(symbol))}`);
      });
  }

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
    db = createDataSource(loadConfig(databaseSchema), { applicationName: 'order-types' });
    await db.initialize();
    const repo = new MarketsRepository(db);
    await repo.upsertAsset('USDT', USDT_DECIMALS);
    const names = ['stop', 'iceberg', 'fok', 'post', 'stp', 'protect', 'budget', 'amend'];
    for (const [i, name] of names.entries()) {
      const base = `OT${run}${String.fromCharCode(65 + i)}`;
      const symbol = `${base}-USDT`;
      await repo.upsertAsset(base, BASE_DECIMALS);
      await repo.upsertMarket({
        symbol,
        baseAsset: base,
        quoteAsset: 'USDT',
        tickSize: '0.01',
        lotSize: '0.0001',
        minNotional: '1',
        makerFeeBps: 10,
        takerFeeBps: 20,
      });
      markets.set(name, { symbol, base });
    }
    await api.marketsListed([...markets.values()].map((m) => m.symbol));
  });

  afterAll(async () => {
    await db?.destroy();
    await services?.stop();
  });

  it('stop-limit and stop-market: held while pending, triggered by trades, filled; the excess released', async () => {
    const { symbol, base } = market('stop');
    const maker = await account({ [base]: '10' });
    const buyer = await account({ USDT: '1000' });
    const trader = await account({ USDT: '1000' });
    for (const price of ['100', '105', '110', '110'])
      await place(maker, { symbol, side: 'sell', type: 'limit', price, quantity: '1' });
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['105', '1', 1],
        ['110', '2', 2],
      ],
    });

    const stopLimit = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'stop-limit',
      stopPrice: '105',
      price: '110',
      quantity: '1',
    });
    const stopMarket = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'stop-market',
      stopPrice: '108',
      protectionPrice: '115',
      quantity: '1',
    });
    // A FOK stop-limit on the same trigger, too big for what lies within its price once triggered.
    const stopFok = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'stop-limit',
      stopPrice: '105',
      price: '105',
      quantity: '5',
      timeInForce: 'FOK',
    });
    // Placed, not triggered: each holds its worst cost (price or protection x quantity, + 0.2 %).
    await settled(buyer, stopLimit, 'new');
    await settled(buyer, stopMarket, 'new');
    await settled(buyer, stopFok, 'new');
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '248.5',
      held: '751.5',
      holds: ['110.22', '115.23', '526.05'],
      releases: [],
    });
    // The stops are not in the book.
    expect((await depth(symbol)).bids).toEqual([]);

    // A buy through 100 and 105: last 105 triggers the stop-limit, which buys at 110; last 110
    // triggers the stop-market, which buys the other 110.
    const ioc = await place(trader, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '105',
      quantity: '2',
      timeInForce: 'IOC',
    });
    await settled(trader, ioc, 'filled', '2');
    expect(await settled(buyer, stopLimit, 'filled', '1')).toMatchObject({ averagePrice: '110' });
    expect(await settled(buyer, stopMarket, 'filled', '1')).toMatchObject({ averagePrice: '110' });
    // Triggered behind the stop-limit, the FOK finds nothing within 105: expired, all released.
    expect(await settled(buyer, stopFok, 'expired', '0')).toMatchObject({ reason: 'FOK_CANNOT_FILL' });
    // Paid 2 x (110 + 0.22 fee); the stop-market's hold at 115 leaves 5.01 to release.
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '779.56',
      held: '0',
      holds: ['110.22', '115.23', '526.05'],
      releases: ['526.05', '5.01'],
    });
    await money(buyer, base, BASE_DECIMALS, { available: '2', held: '0' });
    await depthIs(symbol, { asks: [] });

    // A pending stop cancelled: its hold comes back.
    const stopSell = await place(maker, {
      symbol,
      side: 'sell',
      type: 'stop-limit',
      stopPrice: '90',
      price: '89',
      quantity: '1',
    });
    await settled(maker, stopSell, 'new');
    await money(maker, base, BASE_DECIMALS, { available: '5', held: '1' });
    expect((await api.signed(maker, 'DELETE', `/v1/orders/${stopSell}`)).status).toBe(202);
    await settled(maker, stopSell, 'cancelled', '0');
    await money(maker, base, BASE_DECIMALS, {
      available: '6',
      held: '0',
      holds: ['1', '1', '1', '1', '1'],
      releases: ['1'],
    });
  });

  it('iceberg: only the shown slice is in depth, refilled after each fill; the hold follows the fills', async () => {
    const { symbol, base } = market('iceberg');
    const maker = await account({ [base]: '10' });
    const buyer = await account({ USDT: '1000' });
    const iceberg = await place(maker, {
      symbol,
      side: 'sell',
      type: 'limit',
      price: '100',
      quantity: '3',
      displayQuantity: '1',
    });
    await depthIs(symbol, { asks: [['100', '1', 1]] });
    await money(maker, base, BASE_DECIMALS, { available: '7', held: '3', holds: ['3'] });

    const first = await place(buyer, { symbol, side: 'buy', type: 'limit', price: '100', quantity: '1' });
    await settled(buyer, first, 'filled', '1');
    // Refilled: 1 shown again, 2 left.
    await settled(maker, iceberg, 'partially_filled', '1');
    await depthIs(symbol, { asks: [['100', '1', 1]] });
    await money(maker, base, BASE_DECIMALS, { available: '7', held: '2' });

    // 1.5 takes the shown slice, then the refill's first half.
    const second = await place(buyer, { symbol, side: 'buy', type: 'limit', price: '100', quantity: '1.5' });
    await settled(buyer, second, 'filled', '1.5');
    await settled(maker, iceberg, 'partially_filled', '2.5');
    await depthIs(symbol, { asks: [['100', '0.5', 1]] });
    await money(maker, base, BASE_DECIMALS, { available: '7', held: '0.5' });

    expect((await api.signed(maker, 'DELETE', `/v1/orders/${iceberg}`)).status).toBe(202);
    await settled(maker, iceberg, 'cancelled', '2.5');
    await depthIs(symbol, { asks: [] });
    await money(maker, base, BASE_DECIMALS, { available: '7.5', held: '0', holds: ['3'], releases: ['0.5'] });
    // Maker fee 0.1 % of 250.
    await money(maker, 'USDT', USDT_DECIMALS, { available: '249.75', held: '0' });
    // The buyer held exactly what it paid (taker fee 0.2 %): nothing to release.
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '749.5',
      held: '0',
      holds: ['100.2', '150.3'],
      releases: [],
    });
  });

  it('FOK: filled whole or not at all, the hold released either way', async () => {
    const { symbol, base } = market('fok');
    const maker = await account({ [base]: '10' });
    const buyer = await account({ USDT: '1000' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '100', quantity: '1' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '105', quantity: '1' });
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['105', '1', 1],
      ],
    });

    const tooBig = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '105',
      quantity: '3',
      timeInForce: 'FOK',
    });
    expect(await settled(buyer, tooBig, 'rejected', '0')).toMatchObject({ reason: 'FOK_CANNOT_FILL' });
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '1000',
      held: '0',
      holds: ['315.63'],
      releases: ['315.63'],
    });
    // Nothing traded, the book as it was.
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['105', '1', 1],
      ],
    });

    const whole = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '105',
      quantity: '2',
      timeInForce: 'FOK',
    });
    expect(await settled(buyer, whole, 'filled', '2')).toMatchObject({ averagePrice: '102.5' });
    // Held 2 x 105.21, paid 100.2 + 105.21.
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '794.59',
      held: '0',
      holds: ['315.63', '210.42'],
      releases: ['315.63', '5.01'],
    });
    await money(buyer, base, BASE_DECIMALS, { available: '2', held: '0' });
    await depthIs(symbol, { asks: [] });

    // Fill-or-kill is for limit and stop-limit orders. A market order is immediate-or-cancel: with
    // FOK it would fill what it finds and expire the rest, so the edge refuses it, holding nothing.
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '110', quantity: '1' });
    await depthIs(symbol, { asks: [['110', '1', 1]] });
    for (const type of ['market', 'stop-market']) {
      const res = await api.signed<{ error: Json }>(buyer, 'POST', '/v1/orders', {
        symbol,
        side: 'buy',
        type,
        quantity: '2',
        protectionPrice: '120',
        timeInForce: 'FOK',
        ...(type === 'stop-market' ? { stopPrice: '115' } : {}),
      });
      expect([res.status, res.body.error?.code, res.body.error?.field]).toEqual([
        400,
        'INVALID_ORDER_OPTIONS',
        'timeInForce',
      ]);
    }
    await depthIs(symbol, { asks: [['110', '1', 1]] });
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '794.59',
      held: '0',
      holds: ['315.63', '210.42'],
    });
  });

  it('post-only: rests as a maker, is refused when it would take, and pays the maker fee when hit', async () => {
    const { symbol, base } = market('post');
    const maker = await account({ [base]: '10' });
    const buyer = await account({ USDT: '1000' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '100', quantity: '1' });
    await depthIs(symbol, { asks: [['100', '1', 1]] });

    const rests = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '95',
      quantity: '1',
      postOnly: true,
    });
    await settled(buyer, rests, 'new');
    await depthIs(symbol, { bids: [['95', '1', 1]] });
    const takes = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '100',
      quantity: '1',
      postOnly: true,
    });
    expect(await settled(buyer, takes, 'rejected', '0')).toMatchObject({ reason: 'POST_ONLY_WOULD_TAKE' });
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '904.81',
      held: '95.19',
      holds: ['95.19', '100.2'],
      releases: ['100.2'],
    });
    await depthIs(symbol, { bids: [['95', '1', 1]], asks: [['100', '1', 1]] });

    // Hit by a sell at 95: filled as maker, fee 0.1 % (0.095) instead of the 0.2 % held for.
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '95', quantity: '1' });
    await settled(buyer, rests, 'filled', '1');
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '904.905',
      held: '0',
      holds: ['95.19', '100.2'],
      releases: ['100.2', '0.095'],
    });
    await money(buyer, base, BASE_DECIMALS, { available: '1', held: '0' });
  });

  it('every STP mode between two orders of one account, the holds of the cancelled side released', async () => {
    const { symbol, base } = market('stp');
    const self = await account({ USDT: '1000', [base]: '10' });
    const other = await account({ [base]: '10' });
    const sell = (price = '100', stpMode?: string) =>
      place(self, {
        symbol,
        side: 'sell',
        type: 'limit',
        price,
        quantity: '1',
        ...(stpMode ? { stpMode } : {}),
      });
    const buy = (stpMode: string, extra: Json = {}) =>
      place(self, { symbol, side: 'buy', type: 'limit', price: '100', quantity: '1', stpMode, ...extra });

    // cancel-taker: the incoming buy is cancelled, the resting sell stays.
    const restingSell = await sell();
    await settled(self, restingSell, 'new');
    const takerCancelled = await buy('cancel-taker');
    expect(await settled(self, takerCancelled, 'cancelled', '0')).toMatchObject({ reason: 'SELF_TRADE' });
    await depthIs(symbol, { asks: [['100', '1', 1]], bids: [] });
    await money(self, 'USDT', USDT_DECIMALS, {
      available: '1000',
      held: '0',
      holds: ['100.2'],
      releases: ['100.2'],
    });

    // cancel-maker: the resting sell is cancelled, the buy rests (nothing else to take).
    const restingBuy = await buy('cancel-maker');
    expect(await settled(self, restingSell, 'cancelled', '0')).toMatchObject({ reason: 'SELF_TRADE' });
    await settled(self, restingBuy, 'new');
    await depthIs(symbol, { asks: [], bids: [['100', '1', 1]] });
    await money(self, base, BASE_DECIMALS, { available: '10', held: '0', holds: ['1'], releases: ['1'] });
    expect((await api.signed(self, 'DELETE', `/v1/orders/${restingBuy}`)).status).toBe(202);
    await settled(self, restingBuy, 'cancelled', '0');

    // cancel-both: both go.
    const bothMaker = await sell();
    await settled(self, bothMaker, 'new');
    const bothTaker = await buy('cancel-both');
    expect(await settled(self, bothTaker, 'cancelled', '0')).toMatchObject({ reason: 'SELF_TRADE' });
    expect(await settled(self, bothMaker, 'cancelled', '0')).toMatchObject({ reason: 'SELF_TRADE' });
    await depthIs(symbol, { asks: [], bids: [] });

    // none: the account trades with itself, paying both fees (0.1 + 0.2).
    const noneMaker = await sell();
    await settled(self, noneMaker, 'new');
    const noneTaker = await buy('none');
    await settled(self, noneTaker, 'filled', '1');
    await settled(self, noneMaker, 'filled', '1');
    await money(self, 'USDT', USDT_DECIMALS, {
      available: '999.7',
      held: '0',
      holds: ['100.2', '100.2', '100.2', '100.2'],
      releases: ['100.2', '100.2', '100.2'],
    });
    await money(self, base, BASE_DECIMALS, {
      available: '10',
      held: '0',
      holds: ['1', '1', '1'],
      releases: ['1', '1'],
    });

    // cancel-taker after a partial fill: fills 1 at 95 from another account, then meets its own
    // sell at 100: the rest is cancelled and what it held for it released.
    await place(other, { symbol, side: 'sell', type: 'limit', price: '95', quantity: '1' });
    const ownAsk = await sell();
    await settled(self, ownAsk, 'new');
    const partial = await place(self, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '100',
      quantity: '2',
      stpMode: 'cancel-taker',
    });
    expect(await settled(self, partial, 'cancelled', '1')).toMatchObject({ reason: 'SELF_TRADE' });
    // Held 200.4, paid 95 + 0.19.
    const usdt = await money(self, 'USDT', USDT_DECIMALS, { available: '904.51', held: '0' });
    // At the fill, the 5.01 the 95 cost less than the 100 held for; at the cancel, the other 100.2.
    expect(usdt.filter((e) => e.kind === 'release').map((e) => e.availableDelta)).toEqual([
      '100.2',
      '100.2',
      '100.2',
      '5.01',
      '100.2',
    ]);

    // A FOK with cancel-taker fills on liquidity ahead of its own order (ADR 0011): the own sell at
    // 100 stays, the FOK takes another account's 1 at 95 ahead of it.
    await place(other, { symbol, side: 'sell', type: 'limit', price: '95', quantity: '1' });
    await depthIs(symbol, {
      asks: [
        ['95', '1', 1],
        ['100', '1', 1],
      ],
    });
    const fok = await place(self, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '100',
      quantity: '1',
      timeInForce: 'FOK',
      stpMode: 'cancel-taker',
    });
    await settled(self, fok, 'filled', '1');
    await settled(self, ownAsk, 'new');
    await depthIs(symbol, { asks: [['100', '1', 1]] });
    // Held 100.2, paid 95.19.
    await money(self, 'USDT', USDT_DECIMALS, { available: '809.32', held: '0' });
    await money(self, base, BASE_DECIMALS, { available: '11', held: '1' });
  });

  it('market orders bounded by a protection price: fill within it, the rest expires, holds released', async () => {
    const { symbol, base } = market('protect');
    const maker = await account({ [base]: '10', USDT: '1000' });
    const trader = await account({ USDT: '1000' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '100', quantity: '1' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '110', quantity: '1' });
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['110', '1', 1],
      ],
    });

    const buy = await place(trader, {
      symbol,
      side: 'buy',
      type: 'market',
      quantity: '2',
      protectionPrice: '105',
    });
    expect(await settled(trader, buy, 'expired', '1')).toMatchObject({ averagePrice: '100' });
    await depthIs(symbol, { asks: [['110', '1', 1]] });
    // Held 2 x 105.21, paid 100.2: 5.01 released at the fill, the unfilled lot's 105.21 at expiry.
    await money(trader, 'USDT', USDT_DECIMALS, {
      available: '899.8',
      held: '0',
      holds: ['210.42'],
      releases: ['5.01', '105.21'],
    });

    // A market sell with nothing within its protection price is refused; within it, it fills.
    await place(maker, { symbol, side: 'buy', type: 'limit', price: '95', quantity: '1' });
    await depthIs(symbol, { bids: [['95', '1', 1]] });
    const refused = await place(trader, {
      symbol,
      side: 'sell',
      type: 'market',
      quantity: '0.5',
      protectionPrice: '96',
    });
    expect(await settled(trader, refused, 'rejected', '0')).toMatchObject({ reason: 'NO_LIQUIDITY' });
    const sell = await place(trader, {
      symbol,
      side: 'sell',
      type: 'market',
      quantity: '1',
      protectionPrice: '90',
    });
    await settled(trader, sell, 'filled', '1');
    await money(trader, base, BASE_DECIMALS, {
      available: '0',
      held: '0',
      holds: ['0.5', '1'],
      releases: ['0.5'],
    });
    // 95 less the 0.2 % taker fee.
    await money(trader, 'USDT', USDT_DECIMALS, { available: '994.61', held: '0' });
  });

  it('market buy with a quote budget: spends at most the budget, the rest expires, the hold released', async () => {
    const { symbol, base } = market('budget');
    const maker = await account({ [base]: '10' });
    const trader = await account({ USDT: '1000' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '100', quantity: '1' });
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '110', quantity: '1' });
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['110', '1', 1],
      ],
    });

    const buy = await place(trader, {
      symbol,
      side: 'buy',
      type: 'market',
      quantity: '5',
      quoteBudget: '150',
    });
    // 1 at 100, then what 50 buys at 110: 0.4545 (49.995); then not one more lot.
    expect(await settled(trader, buy, 'expired', '1.4545')).toMatchObject({ reason: 'BUDGET_EXHAUSTED' });
    await depthIs(symbol, { asks: [['110', '0.5455', 1]] });
    // Held budget + 0.2 % + 1 unit per lot (150.35); paid 149.995 + fees 0.2 + 0.09999.
    await money(trader, 'USDT', USDT_DECIMALS, {
      available: '849.70501',
      held: '0',
      holds: ['150.35'],
      releases: ['0.05501'],
    });
    await money(trader, base, BASE_DECIMALS, { available: '1.4545', held: '0' });
  });

  it('refusals after placement (a stop that would trigger, amends matching refuses, a stop with nothing within its protection) release what they held', async () => {
    const { symbol, base } = market('amend');
    const maker = await account({ [base]: '10' });
    const trader = await account({ USDT: '1000', [base]: '10' });
    const buyer = await account({ USDT: '1000' });
    // Last price 100.
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '100', quantity: '1' });
    await settled(
      trader,
      await place(trader, { symbol, side: 'buy', type: 'limit', price: '100', quantity: '1' }),
      'filled',
    );

    // A buy stop at or below the last price would trigger at once: refused, the hold released.
    const atOnce = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'stop-limit',
      stopPrice: '95',
      price: '95',
      quantity: '1',
    });
    expect(await settled(buyer, atOnce, 'rejected', '0')).toMatchObject({ reason: 'STOP_WOULD_TRIGGER' });
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '1000',
      held: '0',
      holds: ['95.19'],
      releases: ['95.19'],
    });

    // A pending stop cannot be amended: the extra held for a larger quantity comes back.
    const stop = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'stop-limit',
      stopPrice: '105',
      price: '105',
      quantity: '1',
    });
    await settled(buyer, stop, 'new');
    expect((await api.signed(buyer, 'PATCH', `/v1/orders/${stop}`, { quantity: '2' })).status).toBe(202);
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '894.79',
      held: '105.21',
      holds: ['95.19', '105.21', '105.21'],
      releases: ['95.19', '105.21'],
    });
    expect(await settled(buyer, stop, 'new')).toMatchObject({ quantity: '1' });

    // A post-only amended to a price that would take: refused, it stays at 95, the extra released.
    await place(maker, { symbol, side: 'sell', type: 'limit', price: '100', quantity: '1' });
    const post = await place(buyer, {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '95',
      quantity: '1',
      postOnly: true,
    });
    await settled(buyer, post, 'new');
    await depthIs(symbol, { bids: [['95', '1', 1]], asks: [['100', '1', 1]] });
    expect((await api.signed(buyer, 'PATCH', `/v1/orders/${post}`, { price: '100' })).status).toBe(202);
    await money(buyer, 'USDT', USDT_DECIMALS, {
      available: '799.6',
      held: '200.4',
      holds: ['95.19', '105.21', '105.21', '95.19', '5.01'],
      releases: ['95.19', '105.21', '5.01'],
    });
    expect(await settled(buyer, post, 'new')).toMatchObject({ price: '95' });
    await depthIs(symbol, { bids: [['95', '1', 1]], asks: [['100', '1', 1]] });

    // An iceberg amended to a larger quantity re-enters with its display size.
    const iceberg = await place(maker, {
      symbol,
      side: 'sell',
      type: 'limit',
      price: '110',
      quantity: '3',
      displayQuantity: '1',
    });
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['110', '1', 1],
      ],
    });
    expect((await api.signed(maker, 'PATCH', `/v1/orders/${iceberg}`, { quantity: '4' })).status).toBe(202);
    const amended = await api.until('iceberg amended', async () => {
      const r = await api.signed<Json>(maker, 'GET', `/v1/orders/${iceberg}`);
      return r.body.quantity === '4' ? r.body : undefined;
    });
    expect(amended).toMatchObject({ status: 'new', displayQuantity: '1' });
    await depthIs(symbol, {
      asks: [
        ['100', '1', 1],
        ['110', '1', 1],
      ],
    });
    await money(maker, base, BASE_DECIMALS, { available: '4', held: '5', holds: ['1', '1', '3', '1'] });

    // A stop-market sell triggered with no bid within its protection price expires, its hold released.
    const stopSell = await place(trader, {
      symbol,
      side: 'sell',
      type: 'stop-market',
      stopPrice: '99',
      protectionPrice: '97',
      quantity: '1',
    });
    await settled(trader, stopSell, 'new');
    // The trader's own sell at 99 hits the buyer's bid there: last 99 triggers the stop; only the
    // post-only bid at 95 is left, below 97.
    await place(buyer, { symbol, side: 'buy', type: 'limit', price: '99', quantity: '1' });
    await depthIs(symbol, {
      bids: [
        ['99', '1', 1],
        ['95', '1', 1],
      ],
    });
    await place(trader, { symbol, side: 'sell', type: 'limit', price: '99', quantity: '1' });
    expect(await settled(trader, stopSell, 'expired', '0')).toMatchObject({ reason: 'NO_LIQUIDITY' });
    await depthIs(symbol, { bids: [['95', '1', 1]] });
    await money(trader, base, BASE_DECIMALS, {
      available: '10',
      held: '0',
      holds: ['1', '1'],
      releases: ['1'],
    });
  });

  it('the load mix with every order type reconciles clean', async () => {
    const kafkaConfig = loadConfig(kafkaSchema);
    const kafka = new Kafka({
      brokers: kafkaConfig.KAFKA_BROKERS,
      clientId: 'order-types',
      logLevel: logLevel.NOTHING,
    });
    const symbols = [`OM${run}A-USDT`, `OM${run}B-USDT`];
    // As the chaos run lists its markets (lot 0.001, what ChaosLoad formats).
    await openMarkets(db, symbols);
    const sequencedFrom = await sequencedEnds(kafka, [
      ...new Set(symbols.map((s) => partitionFor(s, kafkaConfig.KAFKA_PARTITIONS))),
    ]);
    await api.marketsListed(symbols);
    const accounts: LoadAccount[] = [];
    for (let i = 0; i < 3; i++)
      accounts.push(
        await account({
          USDT: '100000',
          ...Object.fromEntries(symbols.map((s) => [s.split('-')[0], '1000'])),
        }),
      );
    const runStartedAt = Date.now();
    const load = new ChaosLoad(
      GATEWAY_URL,
      accounts,
      symbols.map((symbol) => ({ symbol, midTicks: 10_000 })),
      40,
      `ot${run}`,
      { orderTypes: true },
    );
    load.start();
    await new Promise((r) => setTimeout(r, 15_000));
    await load.stop(30_000);
    expect(load.stats).toMatchObject({ refused: 0, abandoned: 0, conflictingAcks: 0 });
    const accountIds = accounts.map((a) => a.accountId);
    expect((await drain(db, symbols, accountIds, 60_000)).pending).toBe(0);
    const result = await reconcile({
      db,
      kafka,
      partitions: kafkaConfig.KAFKA_PARTITIONS,
      symbols,
      accountIds,
      acked: load.acked,
      sequencedFrom,
      gatewayUrl: GATEWAY_URL,
      runStartedAt,
      log: () => undefined,
    });
    const failed = result.checks.filter((c) => !c.ok);
    expect(failed).toEqual([]);
    expect(result.ok).toBe(true);

    // Every order type was in the mix, the immediate ones traded, and self-trade prevention acted.
    const rows = (await db.query(
      `SELECT order_type, tif, post_only, display_qty IS NOT NULL AS iceberg, quote_budget IS NOT NULL AS budget,
              protection_price IS NOT NULL AS protection, status, reason, filled_qty::text AS filled
       FROM orders WHERE account_id = ANY($1)`,
      [accountIds],
    )) as {
      order_type: string;
      tif: string;
      post_only: boolean;
      iceberg: boolean;
      budget: boolean;
      protection: boolean;
      status: string;
      reason: string | null;
      filled: string;
    }[];
    const kinds = new Set<string>();
    for (const o of rows) {
      const kind = o.post_only
        ? 'post-only'
        : o.iceberg
          ? 'iceberg'
          : o.order_type === 'limit'
            ? `limit-${o.tif}`
            : o.order_type === 'market'
              ? o.budget
                ? 'market-budget'
                : 'market-protection'
              : o.order_type;
      kinds.add(kind);
      if (o.filled !== '0') kinds.add(`${kind}:traded`);
      // Self-trade prevention took effect (cancel-taker, cancel-maker or cancel-both).
      if (o.reason === 'SELF_TRADE') kinds.add('stp');
    }
    expect([...kinds].sort()).toEqual(
      expect.arrayContaining([
        'iceberg',
        'limit-FOK',
        'limit-GTC',
        'limit-IOC',
        'market-budget',
        'market-protection',
        'post-only',
        'stop-limit',
        'stop-market',
        'iceberg:traded',
        'limit-FOK:traded',
        'limit-IOC:traded',
        'market-budget:traded',
        'market-protection:traded',
        'stp',
      ]),
    );
  });
});
