import fc from 'fast-check';
import { isPricedOrderType, isStopOrderType } from '@trading/contracts';
import { MatchingEngine, type EngineCommand, type EngineEvent } from '@trading/matching-engine';
import { AccountBook } from './account-book';
import { feeFor, requiredHold } from './money';
import { isFinal } from './order-state';
import { RiskEngine } from './risk-engine';
import type {
  LedgerEntry,
  RiskCommand,
  RiskInput,
  RiskMarket,
  RiskSnapshot,
  RiskUpdate,
  RoutedCommand,
} from './risk.types';

// The real risk engine in front of the real matching engine, as the platform runs them: two router
// partitions (accounts A, C on 0; B on 1), two markets sharing USDT, commands routed to matching
// only after the risk engine held for them, matching's events fanned out per order side (as the
// matching worker does) back to the partition that owns the account. Delivery is asynchronous:
// routed commands and updates queue up and are pumped in random amounts between commands, so
// cancels, amends and money movements race the fills of the orders they touch.

const MARKETS: RiskMarket[] = [
  {
    symbol: 'BTC-USDT',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    minQtyLots: 1,
    makerFeeBps: 7,
    takerFeeBps: 23,
    status: 'trading',
    quoteUnitsPerTickLot: 3n,
    baseUnitsPerLot: 10_000n,
    minNotionalTickLots: 0,
  },
  {
    symbol: 'ETH-USDT',
    baseAsset: 'ETH',
    quoteAsset: 'USDT',
    minQtyLots: 2,
    makerFeeBps: 0,
    takerFeeBps: 15,
    status: 'trading',
    quoteUnitsPerTickLot: 2n,
    baseUnitsPerLot: 1_000n,
    minNotionalTickLots: 0,
  },
];
const ASSETS = ['BTC', 'ETH', 'USDT'];
const ACCOUNTS = ['A', 'B', 'C'];
const partitionOf = (accountId: string): number => (accountId === 'B' ? 1 : 0);

/** What the streams exercised, over all runs: the suite checks that each case really happened. */
const seen = new Map<string, number>();
const tally = (what: string): void => {
  seen.set(what, (seen.get(what) ?? 0) + 1);
};

type Op =
  | { op: 'money'; kind: 'deposit' | 'withdraw'; account: number; asset: string; amount: number; id: number }
  | {
      op: 'place';
      account: number;
      market: number;
      side: 'buy' | 'sell';
      orderType: 'limit' | 'market' | 'stop-limit' | 'stop-market';
      qty: number;
      price?: number;
      tif: 'GTC' | 'IOC' | 'FOK';
      postOnly: boolean;
      displayQty?: number;
      stopPrice?: number;
      protectionPrice?: number;
      quoteBudget?: number;
      stp: 'none' | 'cancel-taker' | 'cancel-maker' | 'cancel-both';
      clientOrderId?: string;
      wellFormed: boolean;
    }
  | { op: 'cancel'; pick: number; asOther: boolean }
  | { op: 'amend'; pick: number; price?: number; qty?: number }
  | { op: 'pump'; matching: number; updates: number }
  /** The last command again, as a client retry sends it. */
  | { op: 'again' };

function sometimes<T>(arb: fc.Arbitrary<T>, weight = 1): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb });
}
const price = fc.integer({ min: 95, max: 105 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('money' as const),
      kind: fc.constantFrom('deposit' as const, 'withdraw' as const),
      account: fc.nat(2),
      asset: fc.constantFrom(...ASSETS),
      amount: fc.integer({ min: 1, max: 3_000_000 }),
      // A small pool of command ids: retries and reused ids happen.
      id: fc.nat(12),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('place' as const),
      account: fc.nat(2),
      market: fc.nat(1),
      side: fc.constantFrom('buy' as const, 'sell' as const),
      orderType: fc.constantFrom(
        'limit' as const,
        'limit' as const,
        'limit' as const,
        'market' as const,
        'stop-limit' as const,
        'stop-market' as const,
      ),
      qty: fc.integer({ min: 1, max: 12 }),
      price: sometimes(price, 6),
      tif: fc.constantFrom('GTC' as const, 'GTC' as const, 'IOC' as const, 'FOK' as const),
      postOnly: fc.boolean().map((b) => b && Math.random() < 2), // plain boolean, kept rare below
      displayQty: sometimes(fc.integer({ min: 1, max: 4 })),
      stopPrice: sometimes(price, 2),
      protectionPrice: sometimes(fc.integer({ min: 95, max: 110 }), 2),
      quoteBudget: sometimes(fc.integer({ min: 1, max: 1_500 })),
      stp: fc.constantFrom(
        'none' as const,
        'cancel-taker' as const,
        'cancel-maker' as const,
        'cancel-both' as const,
      ),
      clientOrderId: sometimes(fc.constantFrom('k1', 'k2', 'k3')),
      // One in ten keeps the fields as drawn (the router refuses most of those shapes).
      wellFormed: fc.nat(9).map((n) => n > 0),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: fc.nat(40), asOther: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('amend' as const),
      pick: fc.nat(40),
      price: sometimes(price, 2),
      qty: sometimes(fc.integer({ min: 1, max: 16 }), 3),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('pump' as const), matching: fc.nat(4), updates: fc.nat(8) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'again' as const }) },
);

/** Two partitions' risk engines and the markets' matching engines, with the queues between them. */
class Exchange {
  readonly risk = [new RiskEngine(0), new RiskEngine(1)];
  readonly matching = new Map(
    MARKETS.map((m) => [
      m.symbol,
      new MatchingEngine({ symbol: m.symbol, tickSize: 1, lotSize: 1, minQty: 1, minNotional: 0 }),
    ]),
  );
  /** Every ledger entry each partition's engine asked to post, in order. */
  readonly ledger: LedgerEntry[] = [];
  /** Every input each partition's engine applied, in order (to replay from a snapshot). */
  readonly inputs: RiskInput[][] = [[], []];
  readonly trades: { symbol: string; trade: Extract<EngineEvent, { type: 'trade' }> }[] = [];
  private readonly toMatching: RoutedCommand[] = [];
  private readonly toRouter: RiskUpdate[][] = [[], []];
  private readonly offsets = [0, 0];
  private readonly placed: { orderId: string; accountId: string; symbol: string }[] = [];
  private n = 0;
  private last: RiskCommand | null = null;
  clock = 1_000;

  constructor() {
    for (const r of this.risk) {
      for (const m of MARKETS) r.setMarket(m);
      r.loadAccount(r.feeAccount);
    }
    for (const a of ACCOUNTS) this.risk[partitionOf(a)].loadAccount(a);
    // Every account starts with some of each asset (a few dozen lots), through the command path.
    for (const a of ACCOUNTS)
      for (const [asset, amount] of [
        ['BTC', 300_000],
        ['ETH', 30_000],
        ['USDT', 30_000],
      ] as const)
        this.command({
          kind: 'deposit',
          commandId: `seed.${a}.${asset}`,
          accountId: a,
          asset,
          amount,
          receivedAt: 0,
        });
  }

  run(op: Op): void {
    this.clock += 1;
    switch (op.op) {
      case 'money':
        return this.command({
          kind: op.kind,
          // Ids are shared within a partition (A and C): one reused for another account is refused
          // there. Across partitions the ledger's own check catches it (the router, not this engine).
          commandId: `m${partitionOf(ACCOUNTS[op.account])}.${op.id}`,
          accountId: ACCOUNTS[op.account],
          asset: op.asset,
          amount: op.amount,
          receivedAt: this.clock,
        });
      case 'place': {
        const orderId = `o${++this.n}`;
        const accountId = ACCOUNTS[op.account];
        const symbol = MARKETS[op.market].symbol;
        this.placed.push({ orderId, accountId, symbol });
        const priced = isPricedOrderType(op.orderType);
        const stop = isStopOrderType(op.orderType);
        const fix = <T>(value: T | undefined, wanted: boolean, fallback: T): T | undefined =>
          !op.wellFormed ? value : wanted ? (value ?? fallback) : undefined;
        return this.command({
          kind: 'place',
          commandId: `c${this.n}`,
          accountId,
          orderId,
          symbol,
          side: op.side,
          orderType: op.orderType,
          qty: op.qty,
          price: fix(op.price, priced, 100),
          tif: op.tif,
          postOnly: op.postOnly && op.orderType === 'limit' && op.qty % 3 === 0,
          displayQty: op.displayQty,
          stopPrice: fix(op.stopPrice, stop, 100),
          protectionPrice: priced && op.wellFormed ? undefined : op.protectionPrice,
          quoteBudget: op.quoteBudget,
          stp: op.stp,
          clientOrderId: op.clientOrderId,
          receivedAt: this.clock,
        });
      }
      case 'cancel':
      case 'amend': {
        if (this.placed.length === 0) return;
        const o = this.placed[op.pick % this.placed.length];
        const accountId =
          op.op === 'cancel' && op.asOther ? ACCOUNTS[(ACCOUNTS.indexOf(o.accountId) + 1) % 3] : o.accountId;
        const base = {
          commandId: `x${++this.n}`,
          accountId,
          orderId: o.orderId,
          symbol: o.symbol,
          receivedAt: this.clock,
        };
        if (op.op === 'cancel') return this.command({ ...base, kind: 'cancel' });
        // Amends up or down, several in flight, racing the fills of the order: what an amend up
        // holds stays held until matching answers it (risk-engine.spec.ts has the cases).
        return this.command({ ...base, kind: 'amend', price: op.price, qty: op.qty });
      }
      case 'pump':
        return this.pump(op.matching, op.updates);
      case 'again':
        // Order ids are random without a clientOrderId: only one with it comes again.
        if (this.last && (this.last.kind !== 'place' || this.last.clientOrderId)) this.command(this.last);
    }
  }

  private command(command: RiskCommand): void {
    this.last = command;
    const p = partitionOf(command.accountId);
    const input: RiskInput = { offset: this.offsets[p]++, at: this.clock, command };
    this.inputs[p].push(input);
    const r = this.risk[p].apply(input);
    const d = r.decision;
    tally(`${d.input}:${d.outcome}${'reason' in d ? `:${d.reason}` : ''}`);
    if (command.kind === 'amend' && r.ledger.length > 0) tally('amend:extra-hold');
    this.ledger.push(...r.ledger);
    this.toMatching.push(...r.routed);
  }

  /** Delivers up to `matching` routed commands, then up to `updates` updates to each partition. */
  pump(matching: number, updates: number): void {
    for (let i = 0; i < matching && this.toMatching.length > 0; i++) {
      const routed = this.toMatching.shift()!;
      const out: EngineEvent[] = [];
      this.matching.get(routed.symbol)!.process(routed.command as EngineCommand, out);
      for (const e of out) {
        tally(
          `event:${e.type}${e.type === 'rejected' || e.type === 'expired' || e.type === 'cancelled' ? `:${e.reason}` : ''}`,
        );
        const fan = (accountId: string, orderId: string): void => {
          this.toRouter[partitionOf(accountId)].push({
            accountId,
            orderId,
            symbol: routed.symbol,
            seq: e.seq,
            receivedAt: routed.receivedAt,
            emittedAt: this.clock,
            event: { ...e },
          });
        };
        if (e.type === 'trade') {
          this.trades.push({ symbol: routed.symbol, trade: e });
          fan(e.makerAccountId, e.makerOrderId);
          fan(e.takerAccountId, e.takerOrderId);
        } else fan(e.accountId || routed.accountId, e.orderId || routed.command.orderId);
      }
    }
    for (const p of [0, 1])
      for (let i = 0; i < updates && this.toRouter[p].length > 0; i++) {
        const input: RiskInput = { update: this.toRouter[p].shift()! };
        this.inputs[p].push(input);
        const r = this.risk[p].apply(input);
        this.ledger.push(...r.ledger);
      }
  }

  /** No update waits for a router: both sides of every trade are settled. */
  get settled(): boolean {
    return this.toRouter.every((q) => q.length === 0);
  }

  drain(): void {
    while (this.toMatching.length > 0 || this.toRouter.some((q) => q.length > 0)) this.pump(100, 1_000);
  }

  external(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const e of this.ledger)
      if (e.kind === 'deposit' || e.kind === 'withdrawal')
        out.set(e.asset, (out.get(e.asset) ?? 0n) + e.availableDelta);
    return out;
  }
}

function checkInvariants(x: Exchange): void {
  const totals = new Map<string, bigint>();
  for (const r of x.risk)
    for (const [, asset, b] of r.balances()) {
      // Never negative (the book refuses to apply such an entry, this is the belt to its braces).
      expect(b.available >= 0n && b.held >= 0n).toBe(true);
      totals.set(asset, (totals.get(asset) ?? 0n) + b.available + b.held);
    }
  // Every asset conserved: what is inside (fee accounts included) is what came in minus what left,
  // whenever no trade is half settled (its two sides are two updates, maybe of two partitions).
  const external = x.external();
  if (x.settled) for (const asset of ASSETS) expect(totals.get(asset) ?? 0n).toBe(external.get(asset) ?? 0n);
  // Every hold is explained, to the unit, by the open orders of its account; a final order holds nothing.
  for (const r of x.risk) {
    for (const a of ACCOUNTS.filter((acct) => x.risk[partitionOf(acct)] === r))
      for (const asset of ASSETS) {
        const explained = r
          .openOrders()
          .filter((o) => o.accountId === a && o.holdAsset === asset)
          .reduce((s, o) => s + o.holdRemaining, 0n);
        expect(r.balance(a, asset).held).toBe(explained);
      }
    expect(r.balance(r.feeAccount, 'USDT').held).toBe(0n);
  }
}

/** The ledger, replayed, gives the balances; a final order holds nothing. */
function checkLedger(x: Exchange): void {
  for (const r of x.risk)
    for (const o of r.snapshot().orders) if (isFinal(o.status)) expect(o.holdRemaining).toBe('0');
  // Idempotency keys are unique, and the ledger replays to the balances.
  expect(new Set(x.ledger.map((e) => e.key)).size).toBe(x.ledger.length);
  const replay = new AccountBook();
  for (const r of x.risk) for (const a of [...ACCOUNTS, r.feeAccount]) if (r.isLoaded(a)) replay.load(a, []);
  replay.apply(x.ledger);
  const live = x.risk.flatMap((r) => r.balances()).filter(([, , b]) => b.available !== 0n || b.held !== 0n);
  const replayed = replay.entries().filter(([, , b]) => b.available !== 0n || b.held !== 0n);
  const key = ([a, asset]: [string, string, unknown]): string => `${a}/${asset}`;
  expect(new Map(replayed.map((e) => [key(e), e[2]]))).toEqual(new Map(live.map((e) => [key(e), e[2]])));
}

/** Fees are rounded up, never down: the exchange never loses a fraction. */
function checkFees(x: Exchange): void {
  const byKey = new Map(x.ledger.map((e) => [e.key, e]));
  for (const { symbol, trade: t } of x.trades) {
    const m = MARKETS.find((mk) => mk.symbol === symbol)!;
    const notional = BigInt(t.price) * BigInt(t.qty) * m.quoteUnitsPerTickLot;
    for (const [account, role, bps] of [
      [t.makerAccountId, 'maker', m.makerFeeBps],
      [t.takerAccountId, 'taker', m.takerFeeBps],
    ] as const) {
      const fee = byKey.get(`${symbol}:${t.seq}:${account}:${role}:fee`)!.availableDelta;
      expect(fee).toBe(feeFor(notional, bps));
      expect(fee * 10_000n >= notional * BigInt(bps)).toBe(true);
      expect((fee - 1n) * 10_000n < notional * BigInt(bps)).toBe(true);
    }
  }
}

/** Once everything is delivered: the routers' open orders are matching's live orders, each holding exactly what it can still cost. */
function checkQuiescent(x: Exchange): void {
  for (const r of x.risk)
    for (const o of r.openOrders()) {
      if (o.status === 'pending' && o.lastSeq === 0)
        throw new Error(`order ${o.orderId} never reached matching`);
      const view = x.matching.get(o.symbol)!.getOrder(o.orderId);
      expect(view).not.toBeNull();
      expect(view!.remainingQty).toBe(o.qty - o.filledQty);
      if (!o.holdAsset) continue;
      const market = MARKETS.find((m) => m.symbol === o.symbol)!;
      expect(o.holdRemaining).toBe(requiredHold(o, o.qty - o.filledQty, market));
    }
  for (const [symbol, m] of x.matching)
    for (const o of m.snapshot().bids.concat(m.snapshot().asks)) {
      const owner = x.risk[partitionOf(o[1])].order(o[0]);
      expect(owner && !isFinal(owner.status) && owner.symbol === symbol).toBe(true);
    }
}

function replayEquals(x: Exchange, at: number[], snaps: RiskSnapshot[]): void {
  for (const p of [0, 1]) {
    const back = RiskEngine.restore(JSON.parse(JSON.stringify(snaps[p])) as RiskSnapshot);
    for (const input of x.inputs[p].slice(at[p])) back.apply(structuredClone(input));
    expect(back.snapshot()).toEqual(x.risk[p].snapshot());
  }
}

describe('risk engine with the matching engine', () => {
  it('never goes negative, conserves every asset, explains every hold, rounds fees up and replays, over random streams', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }),
        fc.nat(80),
        (ops, snapshotAt) => {
          const x = new Exchange();
          let snaps: RiskSnapshot[] = x.risk.map((r) => r.snapshot());
          let cut = [0, 0];
          ops.forEach((op, i) => {
            if (i === snapshotAt) {
              snaps = x.risk.map((r) => r.snapshot());
              cut = x.inputs.map((l) => l.length);
            }
            x.run(op);
            checkInvariants(x);
          });
          checkLedger(x);
          x.drain();
          checkInvariants(x);
          checkLedger(x);
          checkFees(x);
          checkQuiescent(x);
          replayEquals(x, cut, snaps);
        },
      ),
      // A fixed seed: the coverage check below (every case really happened) must not depend on
      // the draw; PROPERTY_SEED explores other streams.
      { numRuns: 100, seed: Number(process.env.PROPERTY_SEED ?? 20261204) },
    );
    for (const c of [
      'deposit:applied',
      'deposit:duplicate',
      'deposit:reused_id',
      'withdraw:applied',
      'withdraw:rejected',
      'place:routed',
      'place:retried',
      'place:rejected:INSUFFICIENT_FUNDS',
      'place:rejected:DUPLICATE_CLIENT_ORDER_ID',
      'place:rejected:MARKET_BUY_UNBOUNDED',
      'cancel:routed',
      'cancel:rejected:UNKNOWN_ORDER',
      'amend:routed',
      'amend:extra-hold',
      'event:trade',
      'event:triggered',
      'event:amended',
      'event:cancelled:SELF_TRADE',
      'event:rejected:POST_ONLY_WOULD_TAKE',
      'event:rejected:FOK_CANNOT_FILL',
    ])
      expect([c, (seen.get(c) ?? 0) > 0]).toEqual([c, true]);
  });
});
