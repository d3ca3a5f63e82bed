import { amendsHold, feeAccountFor, feeFor, requiredHold } from './money';
import { AccountNotLoadedError, MarketNotLoadedError, RiskEngine } from './risk-engine';
import type { PlaceCommand, RiskCommand, RiskEvent, RiskMarket, RiskResult } from './risk.types';

// The command path of the risk engine, one decision at a time: what is held, what is refused and
// why, what goes to matching, and what an execution update settles.

const market: RiskMarket = {
  symbol: 'BTC-USDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  minQtyLots: 1,
  makerFeeBps: 10,
  takerFeeBps: 20,
  status: 'trading',
  quoteUnitsPerTickLot: 3n,
  baseUnitsPerLot: 1000n,
  minNotionalTickLots: 0,
};
const P = 3;
let offset = 0;

function engine(): RiskEngine {
  const e = new RiskEngine(P);
  e.setMarket(market);
  e.loadAccount('a', [{ asset: 'USDT', available: 1_000_000n, held: 0n }]);
  e.loadAccount('b', [{ asset: 'BTC', available: 100_000n, held: 0n }]);
  e.loadAccount(e.feeAccount);
  return e;
}

function run(e: RiskEngine, command: RiskCommand): RiskResult {
  return e.apply({ offset: ++offset, at: 5_000, command });
}

function place(over: Partial<PlaceCommand> = {}): PlaceCommand {
  return {
    kind: 'place',
    commandId: `c${offset}`,
    accountId: 'a',
    orderId: `o${offset + 1}`,
    symbol: market.symbol,
    side: 'buy',
    orderType: 'limit',
    qty: 10,
    price: 100,
    tif: 'GTC',
    postOnly: false,
    stp: 'none',
    receivedAt: 1_000,
    ...over,
  };
}

const money = (kind: 'deposit' | 'withdraw', commandId: string, amount: number, asset = 'USDT') =>
  ({ kind, commandId, accountId: 'a', asset, amount, receivedAt: 1_000 }) as const;

/** An amend of `orderId` by its owner 'a'. */
const amend = (orderId: string, over: { price?: number; qty?: number } = {}): RiskCommand => ({
  kind: 'amend',
  commandId: 'x',
  accountId: 'a',
  orderId,
  symbol: market.symbol,
  receivedAt: 1,
  ...over,
});

/** Matching's refusal of an amend of `orderId` (owned by 'a'). */
const amendRefused = (orderId: string, seq: number, reason: string): RiskEvent => ({
  type: 'rejected',
  seq,
  command: 'amend',
  orderId,
  accountId: 'a',
  reason,
});

/** Matching's application of an amend of `orderId` (owned by 'a'), the order's priority lost. */
const amended = (
  orderId: string,
  seq: number,
  price: number,
  qty: number,
  remainingQty: number,
): RiskEvent => ({
  type: 'amended',
  seq,
  orderId,
  accountId: 'a',
  price,
  qty,
  remainingQty,
  keptPriority: false,
});

function update(e: RiskEngine, orderId: string, event: RiskEvent): RiskResult {
  const o = e.order(orderId)!;
  return e.apply({
    update: {
      accountId: o.accountId,
      orderId,
      symbol: market.symbol,
      seq: event.seq,
      receivedAt: 1,
      emittedAt: 2,
      event,
    },
  });
}

// A buy of 10 lots at 100 ticks holds 10 x (300 + fee of 300 at the dearer 20 bps, rounded up).
const BUY_HOLD = 10n * (300n + feeFor(300n, 20));

describe('RiskEngine: money commands', () => {
  it('applies a deposit once, acknowledges the same movement again and refuses another body under its id', () => {
    const e = engine();
    const first = run(e, money('deposit', 'd1', 500));
    expect(first.decision).toEqual({ input: 'deposit', outcome: 'applied' });
    expect(first.ledger).toEqual([
      {
        key: 'deposit:d1',
        accountId: 'a',
        asset: 'USDT',
        availableDelta: 500n,
        heldDelta: 0n,
        kind: 'deposit',
        ref: `cmd:${P}:${offset}`,
      },
    ]);
    expect(first.stream).toEqual([
      {
        accountId: 'a',
        update: { type: 'deposit', commandId: 'd1', asset: 'USDT', status: 'applied', reason: null },
      },
    ]);
    const again = run(e, money('deposit', 'd1', 500));
    expect(again.decision.outcome).toBe('duplicate');
    expect(again.ledger).toEqual([]);
    expect(again.stream[0].update).toMatchObject({ status: 'applied', reason: null });
    // The same id as a withdrawal, or for another amount: refused and dead-lettered, nothing moves.
    for (const reused of [money('withdraw', 'd1', 500), money('deposit', 'd1', 501)]) {
      const r = run(e, reused);
      expect(r.decision).toMatchObject({ outcome: 'reused_id' });
      expect(r.decision).toHaveProperty(
        'deadLetter',
        expect.stringMatching(/^IDEMPOTENCY_KEY_REUSED: commandId d1/),
      );
      expect(r.stream[0].update).toMatchObject({ status: 'rejected', reason: 'IDEMPOTENCY_KEY_REUSED' });
      expect(r.ledger).toEqual([]);
    }
    expect(e.balance('a', 'USDT')).toEqual({ available: 1_000_500n, held: 0n });
  });

  it('treats a command id already in the ledger (known from the database) as posted', () => {
    const e = engine();
    e.knowMoney([
      {
        key: 'withdraw:w9',
        accountId: 'a',
        asset: 'USDT',
        availableDelta: -7n,
        heldDelta: 0n,
        kind: 'withdrawal',
        ref: 'cmd:0:1',
      },
    ]);
    expect(run(e, money('withdraw', 'w9', 7)).decision.outcome).toBe('duplicate');
    expect(run(e, money('deposit', 'w9', 7)).decision.outcome).toBe('reused_id');
    expect(e.balance('a', 'USDT').available).toBe(1_000_000n);
  });

  it('refuses a withdrawal beyond what is available, and does not remember its id', () => {
    const e = engine();
    const r = run(e, money('withdraw', 'w1', 1_000_001));
    expect(r.decision).toEqual({ input: 'withdraw', outcome: 'rejected' });
    expect(r.stream[0].update).toEqual({
      type: 'withdrawal',
      commandId: 'w1',
      asset: 'USDT',
      status: 'rejected',
      reason: 'INSUFFICIENT_FUNDS',
    });
    expect(r.ledger).toEqual([]);
    // Held funds are not available either.
    run(e, place());
    expect(run(e, money('withdraw', 'w1', 1_000_000)).decision.outcome).toBe('rejected');
    expect(run(e, money('withdraw', 'w1', 1_000_000 - Number(BUY_HOLD))).decision.outcome).toBe('applied');
    expect(e.balance('a', 'USDT')).toEqual({ available: 0n, held: BUY_HOLD });
  });

  it('refuses to decide for an account the caller did not load', () => {
    const e = engine();
    expect(() => run(e, { ...money('deposit', 'x', 1), accountId: 'stranger' })).toThrow(
      AccountNotLoadedError,
    );
  });
});

describe('RiskEngine: placements', () => {
  it('holds a buy at its price plus the dearer fee per lot and routes it with its source', () => {
    const e = engine();
    const cmd = place({ clientOrderId: 'mine', stp: 'cancel-taker' });
    const r = run(e, cmd);
    expect(r.decision).toEqual({ input: 'place', outcome: 'routed' });
    expect(r.ledger).toEqual([
      {
        key: `cmd:${P}:${offset}:${cmd.orderId}:hold`,
        accountId: 'a',
        asset: 'USDT',
        availableDelta: -BUY_HOLD,
        heldDelta: BUY_HOLD,
        kind: 'hold',
        ref: `cmd:${P}:${offset}`,
      },
    ]);
    expect(r.routed).toEqual([
      {
        symbol: market.symbol,
        accountId: 'a',
        receivedAt: 1_000,
        routedAt: 5_000,
        source: { partition: P, offset },
        command: {
          type: 'new',
          orderId: cmd.orderId,
          accountId: 'a',
          side: 'buy',
          orderType: 'limit',
          qty: 10,
          price: 100,
          tif: 'GTC',
          postOnly: undefined,
          displayQty: undefined,
          stopPrice: undefined,
          protectionPrice: undefined,
          quoteBudget: undefined,
          stp: 'cancel-taker',
        },
      },
    ]);
    expect(r.newOrders).toEqual([
      expect.objectContaining({
        orderId: cmd.orderId,
        clientOrderId: 'mine',
        status: 'pending',
        reason: null,
        holdAsset: 'USDT',
        holdRemaining: BUY_HOLD,
        makerFeeBps: 10,
        takerFeeBps: 20,
      }),
    ]);
    // The own-orders stream shows the accepted order as pending (ADR 0014).
    expect(r.stream).toEqual([
      {
        accountId: 'a',
        update: {
          type: 'order',
          orderId: cmd.orderId,
          symbol: cmd.symbol,
          status: 'pending',
          reason: null,
          filledQty: 0,
          qty: cmd.qty,
          lastSeq: 0,
        },
      },
    ]);
    expect(e.order(cmd.orderId)).toMatchObject({ status: 'pending', holdRemaining: BUY_HOLD, lastSeq: 0 });
    expect(e.balance('a', 'USDT')).toEqual({ available: 1_000_000n - BUY_HOLD, held: BUY_HOLD });
  });

  it('holds a sell in base lots, a market buy at its protection price or its quote budget', () => {
    const e = engine();
    run(e, { ...place({ side: 'sell', accountId: 'b', qty: 7 }) });
    expect(e.balance('b', 'BTC')).toEqual({ available: 93_000n, held: 7_000n });
    const viaProtection = run(e, place({ orderType: 'market', price: undefined, protectionPrice: 100 }));
    expect(viaProtection.ledger[0].heldDelta).toBe(BUY_HOLD);
    const viaBudget = run(e, place({ orderType: 'market', price: undefined, quoteBudget: 1000 }));
    // budget 1000 tick-lots = 3000 units, its fee rounded up, plus one unit per possible fill.
    expect(viaBudget.ledger[0].heldDelta).toBe(3000n + feeFor(3000n, 20) + 10n);
  });

  it('refuses with the reason, stores the refused row, holds nothing and routes nothing', () => {
    const e = engine();
    const cases: [Partial<PlaceCommand>, string][] = [
      [{ qty: 10_000 }, 'INSUFFICIENT_FUNDS'],
      [{ orderType: 'market', price: undefined }, 'MARKET_BUY_UNBOUNDED'],
      [{ symbol: 'NOPE-USDT' }, 'UNKNOWN_SYMBOL'],
      [{ price: undefined }, 'INVALID_PRICE'],
      [{ orderType: 'stop-limit' }, 'INVALID_STOP_PRICE'],
    ];
    for (const [over, reason] of cases) {
      const cmd = place(over);
      const r = run(e, cmd);
      expect(r.decision).toEqual({ input: 'place', outcome: 'rejected', reason });
      expect(r.ledger).toEqual([]);
      expect(r.routed).toEqual([]);
      expect(r.newOrders).toEqual([
        expect.objectContaining({ orderId: cmd.orderId, status: 'rejected', reason }),
      ]);
      expect(r.stream).toEqual([
        {
          accountId: 'a',
          update: {
            type: 'order',
            orderId: cmd.orderId,
            symbol: cmd.symbol,
            status: 'rejected',
            reason,
            filledQty: 0,
            qty: cmd.qty,
            lastSeq: 0,
          },
        },
      ]);
      // A refused placement never reached matching: there is nothing to cancel.
      expect(run(e, { ...cmd, kind: 'cancel' }).decision).toMatchObject({ reason: 'UNKNOWN_ORDER' });
    }
    // The hold asset is decided before the funds check, as stored today.
    const broke = run(e, place({ qty: 10_000 }));
    expect(broke.newOrders[0]).toMatchObject({ holdAsset: 'USDT', holdRemaining: 0n });
    e.setMarket({ ...market, status: 'halted' });
    expect(run(e, place()).decision).toMatchObject({ reason: 'MARKET_HALTED' });
    expect(e.balance('a', 'USDT')).toEqual({ available: 1_000_000n, held: 0n });
  });

  it('drops a retry of a stored clientOrderId and refuses the id for another order', () => {
    const e = engine();
    const first = place({ clientOrderId: 'k1' });
    run(e, first);
    const retry = run(e, first);
    expect(retry.decision).toEqual({ input: 'place', outcome: 'retried' });
    expect(retry.forget).toEqual([first.orderId]);
    expect(retry.newOrders).toEqual([]);
    const other = run(e, place({ clientOrderId: 'k1' }));
    expect(other.decision).toMatchObject({ outcome: 'rejected', reason: 'DUPLICATE_CLIENT_ORDER_ID' });
    // The first order stands; this one never existed (no row).
    expect(other.newOrders).toEqual([]);
    expect(other.stream[0].update).toMatchObject({ status: 'rejected', reason: 'DUPLICATE_CLIENT_ORDER_ID' });
    // Taken ids known from the database count the same; another account's are its own.
    e.knowClientOrderIds(new Map([['a\u0000k2', 'stored']]));
    expect(run(e, place({ clientOrderId: 'k2' })).decision).toMatchObject({
      reason: 'DUPLICATE_CLIENT_ORDER_ID',
    });
    expect(run(e, place({ clientOrderId: 'k2', orderId: 'stored' })).decision.outcome).toBe('retried');
    expect(
      run(e, place({ clientOrderId: 'k1', accountId: 'b', side: 'sell', qty: 1 })).decision.outcome,
    ).toBe('routed');
    // A refused placement still takes its clientOrderId (its row is stored).
    run(e, place({ clientOrderId: 'k3', qty: 10_000 }));
    expect(run(e, place({ clientOrderId: 'k3' })).decision).toMatchObject({
      reason: 'DUPLICATE_CLIENT_ORDER_ID',
    });
  });
});

describe('RiskEngine: cancels and amends', () => {
  it('routes a cancel of the owner’s order only', () => {
    const e = engine();
    const cmd = place();
    run(e, cmd);
    const base = { commandId: 'x', orderId: cmd.orderId, symbol: market.symbol, receivedAt: 1 };
    expect(run(e, { ...base, kind: 'cancel', accountId: 'b' }).decision).toEqual({
      input: 'cancel',
      outcome: 'rejected',
      reason: 'UNKNOWN_ORDER',
    });
    expect(run(e, { ...base, kind: 'cancel', accountId: 'a', orderId: 'nope' }).routed).toEqual([]);
    expect(run(e, { ...base, kind: 'cancel', accountId: 'a', symbol: 'ETH-USDT' }).routed).toEqual([]);
    const ok = run(e, { ...base, kind: 'cancel', accountId: 'a' });
    expect(ok.routed.map((r) => r.command)).toEqual([{ type: 'cancel', orderId: cmd.orderId }]);
    expect(ok.ledger).toEqual([]);
  });

  it('holds the extra an amend up can cost before routing it, and nothing for an amend down', () => {
    const e = engine();
    const cmd = place();
    run(e, cmd);
    const down = run(e, amend(cmd.orderId, { qty: 5 }));
    expect(down.ledger).toEqual([]);
    expect(down.routed.map((r) => r.command)).toEqual([
      { type: 'amend', orderId: cmd.orderId, price: undefined, qty: 5 },
    ]);
    const up = run(e, amend(cmd.orderId, { price: 110, qty: 12 }));
    const need = 12n * (330n + feeFor(330n, 20));
    expect(up.ledger).toEqual([expect.objectContaining({ kind: 'hold', heldDelta: need - BUY_HOLD })]);
    expect(up.changedOrders).toEqual([e.order(cmd.orderId)]);
    expect(e.order(cmd.orderId)!.holdRemaining).toBe(need);
    expect(e.balance('a', 'USDT').held).toBe(need);
  });

  it('refuses an amend up the account cannot cover, leaving the order as it was', () => {
    const e = engine();
    const cmd = place();
    run(e, cmd);
    const r = run(e, amend(cmd.orderId, { qty: 10_000 }));
    expect(r.decision).toEqual({ input: 'amend', outcome: 'rejected', reason: 'INSUFFICIENT_FUNDS' });
    expect(r.routed).toEqual([]);
    expect(r.stream).toEqual([
      {
        accountId: 'a',
        update: {
          type: 'order',
          orderId: cmd.orderId,
          symbol: market.symbol,
          status: 'pending',
          reason: 'AMEND_INSUFFICIENT_FUNDS',
          event: 'amend_rejected',
        },
      },
    ]);
    expect(e.balance('a', 'USDT').held).toBe(BUY_HOLD);
  });

  it('takes no extra hold for an amend of an order already final (no later event would release it)', () => {
    const e = engine();
    const cmd = place();
    run(e, cmd);
    update(e, cmd.orderId, {
      type: 'cancelled',
      seq: 1,
      orderId: cmd.orderId,
      accountId: 'a',
      remainingQty: 10,
      reason: 'USER',
    });
    expect(e.balance('a', 'USDT')).toEqual({ available: 1_000_000n, held: 0n });
    const r = run(e, amend(cmd.orderId, { qty: 20 }));
    expect(r.ledger).toEqual([]);
    expect(r.routed).toHaveLength(1);
    update(e, cmd.orderId, {
      type: 'rejected',
      seq: 2,
      command: 'amend',
      orderId: cmd.orderId,
      accountId: '',
      reason: 'UNKNOWN_ORDER',
    });
    expect(e.balance('a', 'USDT')).toEqual({ available: 1_000_000n, held: 0n });
  });

  // Found by risk-engine.property.spec.ts: an event of the order settled between an amend up and
  // its Amended released down to the quantity as last settled, so the amended order was under-held.
  it('keeps the extra hold of an amend up while an earlier event of the order settles', () => {
    const e = engine();
    const cmd = place({ qty: 1 });
    run(e, cmd);
    run(e, amend(cmd.orderId, { qty: 1 }));
    run(e, amend(cmd.orderId, { qty: 2 }));
    expect(e.order(cmd.orderId)!.holdRemaining).toBe(2n * (BUY_HOLD / 10n));
    update(e, cmd.orderId, {
      type: 'accepted',
      seq: 1,
      orderId: cmd.orderId,
      accountId: 'a',
      side: 'buy',
      orderType: 'limit',
      price: 100,
      qty: 1,
    });
    update(e, cmd.orderId, amendRefused(cmd.orderId, 2, 'INVALID_AMEND'));
    update(e, cmd.orderId, amended(cmd.orderId, 3, 100, 2, 2));
    expect(e.order(cmd.orderId)!.holdRemaining).toBe(2n * (BUY_HOLD / 10n));
  });

  it('keeps the extra hold of an amend up through a fill before its Amended, then settles the amended order', () => {
    const e = engine();
    const sell = place({ accountId: 'b', side: 'sell', qty: 20, price: 100 });
    run(e, sell);
    const buy = place({ qty: 4 });
    run(e, buy);
    const perLot = BUY_HOLD / 10n;
    run(e, amend(buy.orderId, { qty: 10 }));
    expect(e.order(buy.orderId)!.holdRemaining).toBe(10n * perLot);
    // Matching filled 1 lot of the order as it was, then applied the amend (10 lots in all, 9 left).
    const fill = (seq: number, qty: number, takerRemainingQty: number): RiskEvent => ({
      type: 'trade',
      seq,
      price: 100,
      qty,
      makerOrderId: sell.orderId,
      takerOrderId: buy.orderId,
      makerAccountId: 'b',
      takerAccountId: 'a',
      takerSide: 'buy',
      makerRemainingQty: 20 - qty,
      takerRemainingQty,
    });
    const first = update(e, buy.orderId, fill(1, 1, 3));
    expect(first.ledger.filter((l) => l.kind === 'release')).toEqual([]);
    expect(e.order(buy.orderId)!.holdRemaining).toBe(9n * perLot);
    update(e, buy.orderId, amended(buy.orderId, 2, 100, 10, 9));
    expect(e.order(buy.orderId)!.holdRemaining).toBe(9n * perLot);
    // The 9 lots fill from what is held for them.
    update(e, buy.orderId, fill(3, 9, 0));
    expect(e.order(buy.orderId)).toMatchObject({ status: 'filled', holdRemaining: 0n });
    expect(e.balance('a', 'USDT').held).toBe(0n);
  });

  it('releases the extra hold of an amend matching refuses, and bounds amends in flight by what each may leave', () => {
    const e = engine();
    const cmd = place({ qty: 2 });
    run(e, cmd);
    const perLot = (price: bigint): bigint => price * 3n + feeFor(price * 3n, 20);
    // Up in price first, then up in size: the second applies at whatever price the first left.
    run(e, amend(cmd.orderId, { price: 120 }));
    expect(e.order(cmd.orderId)!.holdRemaining).toBe(2n * perLot(120n));
    const second = run(e, amend(cmd.orderId, { qty: 5 }));
    expect(second.ledger).toEqual([
      expect.objectContaining({ kind: 'hold', heldDelta: 5n * perLot(120n) - 2n * perLot(120n) }),
    ]);
    // Snapshot and restore keep the amends in flight.
    const back = RiskEngine.restore(JSON.parse(JSON.stringify(e.snapshot())));
    expect(back.snapshot()).toEqual(e.snapshot());
    for (const x of [e, back]) {
      update(x, cmd.orderId, amendRefused(cmd.orderId, 1, 'PRICE_OUT_OF_BAND'));
      // The price stays 100; the size amend still in flight may take the order to 5 lots at 100.
      expect(x.order(cmd.orderId)!.holdRemaining).toBe(5n * perLot(100n));
      update(x, cmd.orderId, amended(cmd.orderId, 2, 100, 5, 5));
      expect(x.order(cmd.orderId)!.holdRemaining).toBe(5n * perLot(100n));
      expect(x.balance('a', 'USDT').held).toBe(5n * perLot(100n));
      expect(x.snapshot().amends).toEqual([]);
    }
  });

  it('reports its amends in flight, and a new engine given them back keeps holding for them', () => {
    const e = engine();
    const cmd = place({ qty: 2 });
    run(e, cmd);
    const perLot = (price: bigint): bigint => price * 3n + feeFor(price * 3n, 20);
    // What the router stores with each batch: the list as it stands after it, by order.
    const stored = new Map<string, { price?: number; qty?: number }[]>();
    const keep = (r: RiskResult): void => {
      for (const [id, list] of r.amends) stored.set(id, list);
    };
    keep(run(e, amend(cmd.orderId, { price: 120 })));
    keep(run(e, amend(cmd.orderId, { qty: 5 })));
    expect([...stored]).toEqual([[cmd.orderId, [{ price: 120 }, { qty: 5 }]]]);
    // The router restarts: a new engine from the stored balances, order and amends.
    const fresh = (withAmends: boolean): RiskEngine => {
      const x = new RiskEngine(P);
      x.setMarket(market);
      x.loadAccount('a', [{ asset: 'USDT', ...e.balance('a', 'USDT') }]);
      x.loadAccount(x.feeAccount);
      x.loadOrders([{ ...e.order(cmd.orderId)! }]);
      if (withAmends) x.loadAmends(stored);
      return x;
    };
    const held = (x: RiskEngine): bigint[] => {
      keep(update(x, cmd.orderId, amendRefused(cmd.orderId, 1, 'PRICE_OUT_OF_BAND')));
      const afterRefusal = x.order(cmd.orderId)!.holdRemaining;
      keep(update(x, cmd.orderId, amended(cmd.orderId, 2, 100, 5, 5)));
      return [afterRefusal, x.order(cmd.orderId)!.holdRemaining];
    };
    // Without them the refusal released what the size amend still needed: 5 lots open on 2 held.
    expect(held(fresh(false))).toEqual([2n * perLot(100n), 2n * perLot(100n)]);
    stored.set(cmd.orderId, [{ price: 120 }, { qty: 5 }]);
    expect(held(fresh(true))).toEqual([5n * perLot(100n), 5n * perLot(100n)]);
    expect(stored.get(cmd.orderId)).toEqual([]);
  });

  it('needs the market of an order it amends', () => {
    const e = engine();
    const cmd = place();
    run(e, cmd);
    const fresh = new RiskEngine(P);
    fresh.loadAccount('a');
    fresh.loadOrders([e.order(cmd.orderId)!]);
    expect(() => run(fresh, amend(cmd.orderId, { qty: 20 }))).toThrow(MarketNotLoadedError);
  });
});

describe('RiskEngine: execution updates', () => {
  it('settles a trade on both sides with fees rounded up to the partition’s fee account, once', () => {
    const e = engine();
    const sell = place({ accountId: 'b', side: 'sell', qty: 10 });
    run(e, sell);
    const buy = place({ price: 101 });
    run(e, buy);
    const trade: RiskEvent = {
      type: 'trade',
      seq: 3,
      price: 100,
      qty: 4,
      makerOrderId: sell.orderId,
      takerOrderId: buy.orderId,
      makerAccountId: 'b',
      takerAccountId: 'a',
      takerSide: 'buy',
      makerRemainingQty: 6,
      takerRemainingQty: 6,
    };
    const maker = update(e, sell.orderId, trade);
    const taker = update(e, buy.orderId, trade);
    const notional = 1200n;
    expect(maker.ledger.find((l) => l.kind === 'fee')).toMatchObject({
      accountId: 'fee.p03',
      availableDelta: feeFor(notional, 10),
    });
    expect(taker.ledger.find((l) => l.kind === 'fee')).toMatchObject({
      accountId: 'fee.p03',
      availableDelta: feeFor(notional, 20),
    });
    expect(e.balance('b', 'USDT').available).toBe(notional - feeFor(notional, 10));
    expect(e.balance('a', 'BTC').available).toBe(4_000n);
    expect(e.balance(e.feeAccount, 'USDT').available).toBe(feeFor(notional, 10) + feeFor(notional, 20));
    // The taker paid 100 not 101: what the remaining 6 lots need at 101 stays held, the rest is released.
    const perLot = 303n + feeFor(303n, 20);
    expect(e.order(buy.orderId)).toMatchObject({
      status: 'partially_filled',
      filledQty: 4,
      holdRemaining: 6n * perLot,
    });
    expect(e.balance('a', 'USDT').held).toBe(6n * perLot);
    expect(taker.changedOrders).toEqual([e.order(buy.orderId)]);
    expect(taker.events).toEqual([expect.objectContaining({ orderId: buy.orderId, seq: 3, type: 'trade' })]);
    // Redelivered: recorded as an event again, changes nothing.
    const again = update(e, buy.orderId, trade);
    expect(again.decision.outcome).toBe('stale');
    expect(again.ledger).toEqual([]);
    expect(again.changedOrders).toEqual([]);
  });

  it('records an update of an order it does not know and moves nothing', () => {
    const e = engine();
    const r = e.apply({
      update: {
        accountId: 'a',
        orderId: 'ghost',
        symbol: market.symbol,
        seq: 9,
        receivedAt: 1,
        emittedAt: 2,
        event: {
          type: 'cancelled',
          seq: 9,
          orderId: 'ghost',
          accountId: 'a',
          remainingQty: 1,
          reason: 'USER',
        },
      },
    });
    expect(r.decision).toEqual({ input: 'update', outcome: 'unknown_order' });
    expect(r.events).toHaveLength(1);
    expect(r.ledger).toEqual([]);
  });
});

describe('RiskEngine: snapshot', () => {
  it('restores to the same state, through JSON', () => {
    const e = engine();
    run(e, money('deposit', 'd1', 10));
    run(e, place({ clientOrderId: 'k' }));
    run(e, place({ accountId: 'b', side: 'sell', qty: 3 }));
    const s = e.snapshot();
    const back = RiskEngine.restore(JSON.parse(JSON.stringify(s)));
    expect(back.snapshot()).toEqual(s);
    // It decides as the original would.
    expect(run(back, money('deposit', 'd1', 10)).decision.outcome).toBe('duplicate');
    expect(run(back, place({ clientOrderId: 'k' })).decision).toMatchObject({
      reason: 'DUPLICATE_CLIENT_ORDER_ID',
    });
  });
});

describe('money rules', () => {
  it('rounds fees up, in the exchange’s favour, to one fee account per router partition', () => {
    expect(feeFor(10_000n, 10)).toBe(10n);
    expect(feeFor(10_001n, 10)).toBe(11n);
    expect(feeFor(0n, 10)).toBe(0n);
    expect(feeAccountFor(3)).toBe('fee.p03');
    expect(feeAccountFor(11)).toBe('fee.p11');
  });

  it('holds for amends in flight the most that any of them, applied or refused, can leave the order needing', () => {
    const e = engine();
    const cmd = place();
    run(e, cmd);
    // 4 of its 10 lots filled.
    const o = { ...e.order(cmd.orderId)!, filledQty: 4 };
    const need = (price: number, qty: number): bigint => requiredHold({ ...o, price }, qty - 4, market)!;
    expect(amendsHold(o, [], market)).toBe(0n);
    // One amend: the order as it leaves it (the order as it stands is not counted).
    expect(amendsHold(o, [{ qty: 8 }], market)).toBe(need(100, 8));
    expect(amendsHold(o, [{ price: 90 }], market)).toBe(need(90, 10));
    // A price up then a size up: the size may apply at the new price or the old one.
    expect(amendsHold(o, [{ price: 120 }, { qty: 20 }], market)).toBe(need(120, 20));
    // An amend that sets both wins both: the earlier price never goes with the later size.
    expect(
      amendsHold(
        o,
        [
          { price: 120, qty: 5 },
          { price: 90, qty: 20 },
        ],
        market,
      ),
    ).toBe([need(120, 5), need(90, 20)].reduce((a, b) => (a > b ? a : b)));
    // Down to what is filled: nothing more to hold.
    expect(amendsHold(o, [{ qty: 4 }], market)).toBe(0n);
    // A sell holds base lots whatever the price.
    expect(amendsHold({ ...o, side: 'sell' }, [{ price: 500, qty: 12 }], market)).toBe(8n * 1000n);
  });
});
