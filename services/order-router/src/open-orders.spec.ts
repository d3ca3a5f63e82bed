import type { OrderStateRow } from '@trading/db';
import { OpenOrders } from './open-orders';

const order = (id: string, status: OrderStateRow['status'] = 'new'): OrderStateRow => ({
  orderId: id,
  accountId: 'a',
  symbol: 'BTC-USDT',
  side: 'buy',
  orderType: 'limit',
  price: 100,
  protectionPrice: null,
  quoteBudget: null,
  qty: 5,
  filledQty: 0,
  filledNotional: 0n,
  status,
  reason: null,
  lastSeq: 1,
  holdAsset: 'USDT',
  holdRemaining: 500n,
  makerFeeBps: 0,
  takerFeeBps: 0,
});

describe('OpenOrders', () => {
  it('reads from the database only what it does not hold, once per id, and keeps what is open', async () => {
    const db = new Map([
      ['o1', order('o1')],
      ['o2', order('o2', 'filled')],
    ]);
    const reads: string[][] = [];
    const load = async (ids: string[]) => {
      reads.push(ids);
      return new Map(ids.flatMap((id) => (db.has(id) ? [[id, { ...db.get(id)! }] as const] : [])));
    };
    const open = new OpenOrders(100);
    const first = await open.find(['o1', 'o2', 'o1', 'o3'], load);
    expect(reads).toEqual([['o1', 'o2', 'o3']]);
    expect([...first.states.keys()]).toEqual(['o1', 'o2']);
    expect(first.loaded).toBe(3);
    expect(first.hits).toBe(0);

    // The same object comes back: the batch's changes to it are what the next batch sees.
    first.states.get('o1')!.filledQty = 2;
    const second = await open.find(['o1'], load);
    expect(reads).toHaveLength(1);
    expect(second.states.get('o1')!.filledQty).toBe(2);
    expect(second.loaded).toBe(0);
    expect(second.hits).toBe(1);

    // Final orders are not kept: the filled one is read again.
    await open.find(['o2'], load);
    expect(reads).toEqual([['o1', 'o2', 'o3'], ['o2']]);
  });

  it('forgets an order once it is committed final, and keeps new ones committed open', async () => {
    const open = new OpenOrders(100);
    open.committed([order('n1'), order('n2')]);
    expect(open.size).toBe(2);
    const none = async () => new Map<string, OrderStateRow>();
    expect((await open.find(['n1', 'n2'], none)).states.size).toBe(2);
    open.committed([order('n1', 'cancelled')]);
    expect(open.size).toBe(1);
    expect([...(await open.find(['n1', 'n2'], none)).states.keys()]).toEqual(['n2']);
  });

  it('holds at most `max` orders, evicting the oldest, which is then read again', async () => {
    const open = new OpenOrders(2);
    open.committed([order('a'), order('b'), order('c')]);
    expect(open.size).toBe(2);
    const reads: string[][] = [];
    const load = async (ids: string[]) => {
      reads.push(ids);
      return new Map(ids.map((id) => [id, order(id)] as const));
    };
    await open.find(['a', 'b', 'c'], load);
    expect(reads).toEqual([['a']]);
  });
});
