import { ENGINE_REJECT_CODES } from '@trading/contracts';
import {
  type DepthView,
  type EngineCommand,
  type EngineEvent,
  type EngineSnapshot,
  type SymbolConfig,
} from './engine.types';
import amendPriority from './fixtures/amend-priority.json';
import cancel from './fixtures/cancel.json';
import fokSelfTradePrevention from './fixtures/fok-self-trade-prevention.json';
import fokStopSelfTradePrevention from './fixtures/fok-stop-self-trade-prevention.json';
import iceberg from './fixtures/iceberg.json';
import limitFok from './fixtures/limit-fok.json';
import limitGtc from './fixtures/limit-gtc.json';
import limitIoc from './fixtures/limit-ioc.json';
import market from './fixtures/market.json';
import postOnly from './fixtures/post-only.json';
import rejections from './fixtures/rejections.json';
import selfTradePrevention from './fixtures/self-trade-prevention.json';
import stopOrders from './fixtures/stop-orders.json';
import { MatchingEngine } from './matching-engine';

interface Fixture {
  name: string;
  config: SymbolConfig;
  commands: EngineCommand[];
  events: EngineEvent[];
  depth?: DepthView;
  lastTradePrice?: number | null;
}

const fixtures = [
  limitGtc,
  limitIoc,
  limitFok,
  postOnly,
  market,
  stopOrders,
  iceberg,
  amendPriority,
  selfTradePrevention,
  fokSelfTradePrevention,
  fokStopSelfTradePrevention,
  cancel,
  rejections,
] as unknown as Fixture[];

function run(engine: MatchingEngine, commands: EngineCommand[]): EngineEvent[] {
  const out: EngineEvent[] = [];
  for (const c of commands) engine.process(c, out);
  return out;
}

describe('MatchingEngine scenarios (fixtures)', () => {
  describe.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, f) => {
    it('emits exactly the expected events', () => {
      expect(run(new MatchingEngine(f.config), f.commands)).toEqual(f.events);
    });

    it('ends with the expected depth and last price', () => {
      const engine = new MatchingEngine(f.config);
      run(engine, f.commands);
      if (f.depth) expect(engine.depth(10)).toEqual(f.depth);
      if (f.lastTradePrice !== undefined) expect(engine.lastTradePrice).toBe(f.lastTradePrice);
    });

    it('gives the same events when restored from a snapshot at every point', () => {
      for (let k = 0; k <= f.commands.length; k++) {
        const engine = new MatchingEngine(f.config);
        const before = run(engine, f.commands.slice(0, k));
        const snap = JSON.parse(JSON.stringify(engine.snapshot())) as EngineSnapshot;
        const after = run(MatchingEngine.restore(snap), f.commands.slice(k));
        expect([...before, ...after]).toEqual(f.events);
      }
    });
  });

  it('covers every rejection reason somewhere in the fixtures', () => {
    const seen = new Set<string>();
    for (const f of fixtures) for (const e of f.events) if (e.type === 'rejected') seen.add(e.reason);
    expect([...seen].sort()).toEqual([...ENGINE_REJECT_CODES].sort());
  });
});
