import fc from 'fast-check';
import type { EngineEventMessage, MarketSpec } from '@trading/contracts';
import { MatchingEngine, type EngineEvent } from '@trading/matching-engine';
import { AccountBook } from './account-book';
import {
  feeAccountFor,
  feeFor,
  holdAssetOf,
  holdEntry,
  requiredHold,
  settleEvent,
  type LedgerEntry,
  type OrderMoney,
} from './settlement';

const market: MarketSpec = {
  symbol: 'BTC-USDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  baseDecimals: 8,
  quoteDecimals: 6,
  tickSize: '0.01',
  lotSize: '0.0001',
  minQtyLots: 1,
  minNotional: '0',
  makerFeeBps: 7,
  takerFeeBps: 23,
  status: 'trading',
  quoteUnitsPerTickLot: 3n,
  baseUnitsPerLot: 10_000n,
  minNotionalTickLots: 0,
};
const ACCOUNTS = ['a', 'b', 'c'];
// As in the router: each account's fills credit the fee account of the account's partition
// (here 'a' and 'c' on partition 0, 'b' on partition 1).
const FEE_ACCOUNTS = [feeAccountFor(0), feeAccountFor(1)];
const feeAccountOf = (accountId: string): string => FEE_ACCOUNTS[ACCOUNTS.indexOf(accountId) % 2];

type Op =
  | { op: 'deposit'; account: number; asset: 'BTC' | 'USDT'; amount: number }
  | { op: 'withdraw'; account: number; asset: 'BTC' | 'USDT'; amount: number }
  | { op: 'limit'; account: number; side: 'buy' | 'sell'; price: number; qty: number; tif: 'GTC' | 'IOC' }
  | { op: 'market'; account: number; side: 'buy' | 'sell'; qty: number; protection: number }
  | { op: 'cancel'; pick: number }
  | { op: 'amend'; pick: number; qty: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('deposit' as const),
    account: fc.nat(2),
    asset: fc.constantFrom('BTC' as const, 'USDT' as const),
    amount: fc.integer({ min: 1, max: 5_000_000 }),
  }),
  fc.record({
    op: fc.constant('withdraw' as const),
    account: fc.nat(2),
    asset: fc.constantFrom('BTC' as const, 'USDT' as const),
    amount: fc.integer({ min: 1, max: 2_000_000 }),
  }),
  fc.record({
    op: fc.constant('limit' as const),
    account: fc.nat(2),
    side: fc.constantFrom('buy' as const, 'sell' as const),
    price: fc.integer({ min: 95, max: 105 }),
    qty: fc.integer({ min: 1, max: 20 }),
    tif: fc.constantFrom('GTC' as const, 'IOC' as const),
  }),
  fc.record({
    op: fc.constant('market' as const),
    account: fc.nat(2),
    side: fc.constantFrom('buy' as const, 'sell' as const),
    qty: fc.integer({ min: 1, max: 20 }),
    protection: fc.integer({ min: 95, max: 110 }),
  }),
  fc.record({ op: fc.constant('cancel' as const), pick: fc.nat(50) }),
  fc.record({ op: fc.constant('amend' as const), pick: fc.nat(50), qty: fc.integer({ min: 1, max: 20 }) }),
);

/** The router's money path in one process: reserve, match, settle every event, release. */
class Exchange {
  readonly book = new AccountBook();
  readonly ledger: LedgerEntry[] = [];
  readonly orders = new Map<string, OrderMoney>();
  readonly engine = new MatchingEngine({
    symbol: market.symbol,
    tickSize: 1,
    lotSize: 1,
    minQty: 1,
    minNotional: 0,
  });
  readonly external = new Map<string, bigint>();
  private n = 0;

  constructor() {
    for (const a of [...ACCOUNTS, ...FEE_ACCOUNTS]) this.book.load(a, []);
  }

  post(entries: LedgerEntry[]): void {
    this.book.apply(entries);
    this.ledger.push(...entries);
  }

  run(op: Op): void {
    const id = `o${++this.n}`;
    switch (op.op) {
      case 'deposit':
        this.post([
          {
            key: `dep:${id}`,
            accountId: ACCOUNTS[op.account],
            asset: op.asset,
            availableDelta: BigInt(op.amount),
            heldDelta: 0n,
            kind: 'deposit',
            ref: id,
          },
        ]);
        this.external.set(op.asset, (this.external.get(op.asset) ?? 0n) + BigInt(op.amount));
        return;
      case 'withdraw': {
        const acct = ACCOUNTS[op.account];
        if (this.book.balance(acct, op.asset).available < BigInt(op.amount)) return; // refused
        this.post([
          {
            key: `wd:${id}`,
            accountId: acct,
            asset: op.asset,
            availableDelta: -BigInt(op.amount),
            heldDelta: 0n,
            kind: 'withdrawal',
            ref: id,
          },
        ]);
        this.external.set(op.asset, (this.external.get(op.asset) ?? 0n) - BigInt(op.amount));
        return;
      }
      case 'limit':
      case 'market': {
        const acct = ACCOUNTS[op.account];
        const o: OrderMoney = {
          orderId: id,
          accountId: acct,
          side: op.side,
          orderType: op.op,
          price: op.op === 'limit' ? op.price : null,
          protectionPrice: op.op === 'market' ? op.protection : null,
          quoteBudget: null,
          remaining: op.qty,
          holdAsset: holdAssetOf(op.side, market),
          holdRemaining: 0n,
          makerFeeBps: market.makerFeeBps,
          takerFeeBps: market.takerFeeBps,
        };
        const need = requiredHold(o, op.qty, market)!;
        if (this.book.balance(acct, o.holdAsset).available < need) return; // INSUFFICIENT_FUNDS, never reaches matching
        this.post([holdEntry(acct, o.holdAsset, need, id, id)]);
        o.holdRemaining = need;
        this.orders.set(id, o);
        this.match(
          op.op === 'limit'
            ? {
                type: 'new',
                orderId: id,
                accountId: acct,
                side: op.side,
                orderType: 'limit',
                price: op.price,
                qty: op.qty,
                tif: op.tif,
              }
            : {
                type: 'new',
                orderId: id,
                accountId: acct,
                side: op.side,
                orderType: 'market',
                qty: op.qty,
                protectionPrice: op.protection,
              },
        );
        return;
      }
      case 'cancel':
      case 'amend': {
        const open = [...this.orders.values()].filter((o) => o.remaining > 0);
        if (open.length === 0) return;
        const o = open[op.pick % open.length];
        if (op.op === 'cancel') this.match({ type: 'cancel', orderId: o.orderId });
        // Size down only: an increase would need a new reservation first (covered by the router).
        else
          this.match({ type: 'amend', orderId: o.orderId, qty: Math.max(1, Math.min(op.qty, o.remaining)) });
      }
    }
  }

  private match(cmd: Parameters<MatchingEngine['process']>[0]): void {
    const out: EngineEvent[] = [];
    this.engine.process(cmd, out);
    for (const e of out as EngineEventMessage[]) {
      const ids = e.type === 'trade' ? [e.makerOrderId, e.takerOrderId] : [e.orderId];
      for (const orderId of ids) {
        const o = this.orders.get(orderId);
        if (o) this.post(settleEvent(o, e, market.symbol, market, feeAccountOf(o.accountId)));
      }
    }
  }
}

function checkInvariants(x: Exchange): void {
  const totals = new Map<string, bigint>();
  for (const [, asset, b] of x.book.entries()) {
    expect(b.available >= 0n && b.held >= 0n).toBe(true);
    totals.set(asset, (totals.get(asset) ?? 0n) + b.available + b.held);
  }
  // Conservation: everything inside (fee account included) equals deposits minus withdrawals.
  for (const asset of ['BTC', 'USDT']) expect(totals.get(asset) ?? 0n).toBe(x.external.get(asset) ?? 0n);
  // Every hold is explained by an open order, to the unit.
  for (const acct of ACCOUNTS) {
    for (const asset of ['BTC', 'USDT']) {
      const explained = [...x.orders.values()]
        .filter((o) => o.accountId === acct && o.holdAsset === asset)
        .reduce((s, o) => s + o.holdRemaining, 0n);
      expect(x.book.balance(acct, asset).held).toBe(explained);
    }
  }
  for (const o of x.orders.values()) if (o.remaining === 0) expect(o.holdRemaining).toBe(0n);
  // Idempotency keys are unique, and replaying the ledger gives the balances.
  expect(new Set(x.ledger.map((e) => e.key)).size).toBe(x.ledger.length);
  const replay = new AccountBook();
  for (const a of [...ACCOUNTS, ...FEE_ACCOUNTS]) replay.load(a, []);
  replay.apply(x.ledger);
  expect(replay.entries()).toEqual(x.book.entries());
}

describe('settlement', () => {
  it('rounds fees up, in the exchange’s favour', () => {
    expect(feeFor(10_000n, 10)).toBe(10n);
    expect(feeFor(10_001n, 10)).toBe(11n);
    expect(feeFor(0n, 10)).toBe(0n);
  });

  it('settles a crossing pair with the right fees on both sides and releases the better price', () => {
    const x = new Exchange();
    x.run({ op: 'deposit', account: 0, asset: 'BTC', amount: 1_000_000 });
    x.run({ op: 'deposit', account: 1, asset: 'USDT', amount: 10_000_000 });
    x.run({ op: 'limit', account: 0, side: 'sell', price: 100, qty: 10, tif: 'GTC' });
    x.run({ op: 'limit', account: 1, side: 'buy', price: 102, qty: 10, tif: 'GTC' });
    const notional = 100n * 10n * 3n; // trade at the maker's price
    expect(x.book.balance('a', 'USDT').available).toBe(notional - feeFor(notional, 7));
    expect(x.book.balance('b', 'USDT')).toEqual({
      available: 10_000_000n - notional - feeFor(notional, 23),
      held: 0n,
    });
    expect(x.book.balance('b', 'BTC').available).toBe(100_000n);
    // The maker's fee to its partition's fee account, the taker's to its own.
    expect(x.book.balance(feeAccountFor(0), 'USDT').available).toBe(feeFor(notional, 7));
    expect(x.book.balance(feeAccountFor(1), 'USDT').available).toBe(feeFor(notional, 23));
    expect(feeAccountFor(11)).toBe('fee.p11');
    checkInvariants(x);
  });

  it('keeps every balance non-negative, conserves every asset and replays the ledger exactly, over random streams', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const x = new Exchange();
        for (const op of ops) {
          x.run(op);
          checkInvariants(x);
        }
      }),
      { numRuns: 400 },
    );
  });
});
