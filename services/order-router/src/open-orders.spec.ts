import type { OrderStateRow } from '@trading/db';
import { RiskEngine } from '@trading/risk-engine';
import { OpenOrders } from './open-orders';
import { order as stored } from './testing/router-harness';

const order = (id: string, status: OrderStateRow['status'] = 'new'): OrderStateRow =>
  stored(id, 'a', 5, { status, lastSeq: 1, holdAsset: 'USDT', holdRemaining: 500n });

function setup(max: number, db: OrderStateRow[]) {
  const engine = new RiskEngine(0);
  const open = new OpenOrders(engine, max);
  const byId = new Map(db.map((o) => [o.orderId, o]));
  const reads: string[][] = [];
  const read = async (ids: string[]) => {
    reads.push(ids);
    return new Map(ids.flatMap((id) => (byId.has(id) ? [[id, { ...byId.get(id)! }] as const] : [])));
  };
  return { engine, open, reads, read };
}

describe('OpenOrders', () => {
  it('reads from the database only what the engine does not hold, once per id, and keeps what is open', async () => {
    const { engine, open, reads, read } = setup(100, [order('o1'), order('o2', 'filled')]);
    const first = await open.load(['o1', 'o2', 'o1', 'o3'], read);
    expect(reads).toEqual([['o1', 'o2', 'o3']]);
    expect(first).toEqual({ hits: 0, loaded: 3 });
    expect(engine.order('o1')).toMatchObject({ status: 'new' });
    expect(engine.order('o2')).toMatchObject({ status: 'filled' });
    open.committed();
    expect(open.size).toBe(1);

    // The engine's own object stays: the batch's changes to it are what the next batch sees.
    engine.order('o1')!.filledQty = 2;
    expect(await open.load(['o1'], read)).toEqual({ hits: 1, loaded: 0 });
    expect(engine.order('o1')!.filledQty).toBe(2);

    // Final orders are not kept: the filled one is read again.
    expect(engine.order('o2')).toBeUndefined();
    await open.load(['o2'], read);
    expect(reads).toEqual([['o1', 'o2', 'o3'], ['o2']]);
  });

  it('forgets an order once it is committed final, and keeps new ones committed open', async () => {
    const { engine, open, read } = setup(100, []);
    engine.loadOrders([order('n1'), order('n2')]);
    open.committed(['n1', 'n2']);
    expect(open.size).toBe(2);
    expect(await open.load(['n1', 'n2'], read)).toEqual({ hits: 2, loaded: 0 });
    engine.order('n1')!.status = 'cancelled';
    open.committed(['n1']);
    expect(open.size).toBe(1);
    expect(engine.order('n1')).toBeUndefined();
    expect(engine.order('n2')).toBeDefined();
  });

  it('holds at most `max` orders, evicting the oldest, which is then read again', async () => {
    const { engine, open, reads, read } = setup(2, [order('a'), order('b'), order('c')]);
    engine.loadOrders([order('a'), order('b'), order('c')]);
    open.committed(['a', 'b', 'c']);
    expect(open.size).toBe(2);
    await open.load(['a', 'b', 'c'], read);
    expect(reads).toEqual([['a']]);
  });
});
