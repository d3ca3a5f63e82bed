import fc from 'fast-check';
import { type EngineCommand, type EngineEvent, type EngineSnapshot, type SymbolConfig } from './engine.types';
import { MatchingEngine } from './matching-engine';
import { ReferenceModel } from './reference-model.spec-support';
import { hashEvents } from './state-hash';

// Small id, account and price pools make duplicates, self trades, cancels of live orders and
// multi-level sweeps frequent in short streams.
const ids = fc.constantFrom('o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7', 'o8', 'o9', 'o10', 'o11');
const accounts = fc.constantFrom('A', 'B', 'C');
const sides = fc.constantFrom<'buy' | 'sell'>('buy', 'sell');
const prices = fc.integer({ min: 95, max: 105 });
const qtys = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5) },
);
const stps = fc.constantFrom(undefined, undefined, 'none', 'cancel-taker', 'cancel-maker', 'cancel-both');
// Mostly absent, sometimes set: a field that is rare in real flow stays rare here.
function sometimes<T>(arb: fc.Arbitrary<T>, weight = 1): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb });
}

const limitCmd = fc.record({
  type: fc.constant('new'),
  orderId: ids,
  accountId: accounts,
  side: sides,
  orderType: fc.constant('limit'),
  price: prices,
  qty: qtys,
  tif: fc.constantFrom(undefined, undefined, 'GTC', 'IOC', 'FOK'),
  postOnly: sometimes(fc.boolean()),
  displayQty: sometimes(fc.integer({ min: 1, max: 4 }), 2),
  stp: stps,
});

const marketCmd = fc.record({
  type: fc.constant('new'),
  orderId: ids,
  accountId: accounts,
  side: sides,
  orderType: fc.constant('market'),
  qty: qtys,
  protectionPrice: sometimes(prices, 3),
  quoteBudget: sometimes(fc.integer({ min: 1, max: 700 }), 2),
  stp: stps,
});

const stopCmd = fc.record({
  type: fc.constant('new'),
  orderId: ids,
  accountId: accounts,
  side: sides,
  orderType: fc.constantFrom('stop-limit', 'stop-market'),
  price: prices,
  stopPrice: prices,
  qty: qtys,
  tif: fc.constantFrom(undefined, 'GTC', 'IOC', 'FOK'),
  protectionPrice: sometimes(prices),
  stp: stps,
});

const cancelCmd = fc.record({ type: fc.constant('cancel'), orderId: ids });

const amendCmd = fc.record({
  type: fc.constant('amend'),
  orderId: ids,
  price: sometimes(prices, 5),
  qty: sometimes(qtys, 4),
});

const command = fc.oneof(
  { weight: 8, arbitrary: limitCmd },
  { weight: 2, arbitrary: marketCmd },
  { weight: 2, arbitrary: stopCmd },
  { weight: 3, arbitrary: cancelCmd },
  { weight: 3, arbitrary: amendCmd },
) as fc.Arbitrary<EngineCommand>;

const config: fc.Arbitrary<SymbolConfig> = fc.record({
  symbol: fc.constant('BTC-USD'),
  tickSize: fc.constant(1),
  lotSize: fc.constant(1),
  minQty: fc.constantFrom(1, 1, 2),
  minNotional: fc.constantFrom(0, 0, 200),
  priceBand: fc.constantFrom(undefined, { maxDeviationTicks: 4 }, { minPrice: 96, maxPrice: 104 }),
}) as fc.Arbitrary<SymbolConfig>;

// JSON drops undefined fields, as a command that went through Kafka would.
function clean(cmds: EngineCommand[]): EngineCommand[] {
  return JSON.parse(JSON.stringify(cmds)) as EngineCommand[];
}

const streams = fc.tuple(config, fc.array(command, { minLength: 5, maxLength: 40, size: 'max' }));

describe('MatchingEngine properties', () => {
  it('emits the same events and depth as the naive reference model on random streams', () => {
    fc.assert(
      fc.property(streams, ([cfg, raw]) => {
        const cmds = clean(raw);
        const engine = new MatchingEngine(cfg);
        const ref = new ReferenceModel(cfg);
        for (const cmd of cmds) {
          const a: EngineEvent[] = [];
          const b: EngineEvent[] = [];
          engine.process(cmd, a);
          ref.process(cmd, b);
          // String compare first: jest's deep equality is the slow part of 10k runs.
          if (JSON.stringify(a) !== JSON.stringify(b)) expect(a).toEqual(b);
          const da = engine.depth(20);
          const db = ref.depth(20);
          if (JSON.stringify(da) !== JSON.stringify(db)) expect(da).toEqual(db);
        }
      }),
      { numRuns: 6000 },
    );
  });

  it('gives the same events after snapshot, JSON round trip, restore and replay', () => {
    fc.assert(
      fc.property(streams, fc.nat(), ([cfg, raw], cut) => {
        const cmds = clean(raw).map((c, i) => ({ ...c, inputOffset: i }));
        const k = cut % (cmds.length + 1);
        const original = new MatchingEngine(cfg);
        const before: EngineEvent[] = [];
        for (let i = 0; i < k; i++) original.process(cmds[i], before);
        const snap = JSON.parse(JSON.stringify(original.snapshot())) as EngineSnapshot;
        const restored = MatchingEngine.restore(snap);
        expect(restored.stateHash()).toBe(original.stateHash());
        expect(restored.inputOffset).toBe(k === 0 ? null : k - 1);
        const a: EngineEvent[] = [];
        const b: EngineEvent[] = [];
        for (let i = k; i < cmds.length; i++) {
          original.process(cmds[i], a);
          restored.process(cmds[i], b);
        }
        expect(JSON.stringify(b)).toBe(JSON.stringify(a));
        expect(hashEvents(b)).toBe(hashEvents(a));
        expect(restored.stateHash()).toBe(original.stateHash());
        expect(restored.snapshot()).toEqual(original.snapshot());
      }),
      { numRuns: 2500 },
    );
  });

  it('never fills an order beyond its size and keeps gap-free sequence numbers', () => {
    fc.assert(
      fc.property(streams, ([cfg, raw]) => {
        const engine = new MatchingEngine(cfg);
        const events: EngineEvent[] = [];
        for (const cmd of clean(raw)) engine.process(cmd, events);
        // Keyed by order instance: ids may be reused once an order is done.
        const instance = new Map<string, number>();
        const size: number[] = [];
        const filled: number[] = [];
        let traded = 0;
        events.forEach((e, i) => {
          expect(e.seq).toBe(i + 1);
          if (e.type === 'accepted') {
            instance.set(e.orderId, size.length);
            size.push(e.qty);
            filled.push(0);
          } else if (e.type === 'amended') {
            size[instance.get(e.orderId)!] = e.qty;
          } else if (e.type === 'cancelled' || e.type === 'expired') {
            const n = instance.get(e.orderId)!;
            expect(size[n] - filled[n]).toBe(e.remainingQty);
          } else if (e.type === 'trade') {
            expect(e.qty).toBeGreaterThan(0);
            traded += e.qty;
            for (const [id, remaining] of [
              [e.makerOrderId, e.makerRemainingQty],
              [e.takerOrderId, e.takerRemainingQty],
            ] as const) {
              const n = instance.get(id)!;
              filled[n] += e.qty;
              expect(filled[n]).toBeLessThanOrEqual(size[n]);
              expect(size[n] - filled[n]).toBe(remaining);
            }
          }
        });
        // Every lot traded is one lot filled on the maker side and one on the taker side.
        expect(filled.reduce((a, b) => a + b, 0)).toBe(2 * traded);
        const d = engine.depth(1000);
        const bid = d.bids[0]?.price ?? null;
        const ask = d.asks[0]?.price ?? null;
        expect(engine.bestBid()).toBe(bid);
        expect(engine.bestAsk()).toBe(ask);
        if (bid !== null && ask !== null) expect(bid).toBeLessThan(ask);
      }),
      { numRuns: 1500 },
    );
  });
});
