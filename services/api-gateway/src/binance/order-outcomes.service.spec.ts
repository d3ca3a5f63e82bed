import type { StreamMessage } from '@trading/contracts';
import type { OrderQueriesRepository, OrderRow, TradesRepository } from '@trading/db';
import type { DatabaseService } from '@trading/nest-common';
import type { StreamHub } from '../stream/stream-hub.service';
import { OrderOutcomesService } from './order-outcomes.service';

function setup(reads: (() => Promise<Partial<OrderRow> | null>)[]) {
  const listeners = new Map<string, (m: StreamMessage) => void>();
  const unsubscribed: string[] = [];
  const hub = {
    isReady: true,
    subscribe: jest.fn((channel: string, l: (m: StreamMessage) => void) => {
      listeners.set(channel, l);
      return Promise.resolve(() => unsubscribed.push(channel));
    }),
  } as unknown as StreamHub;
  let i = 0;
  const findOwn = jest.fn(() => reads[Math.min(i++, reads.length - 1)]());
  const service = new OrderOutcomesService(
    hub,
    { dataSource: { isInitialized: true } } as unknown as DatabaseService,
    { findOwn } as unknown as OrderQueriesRepository,
    {} as TradesRepository,
  );
  return { service, listeners, unsubscribed, findOwn };
}

const row = (status: string) => Promise.resolve({ orderId: 'o-1', status } as Partial<OrderRow>);

describe('OrderOutcomesService.awaitOrder', () => {
  it('reads the order again when its update arrives on the account channel, then stops listening', async () => {
    const { service, listeners, unsubscribed, findOwn } = setup([() => row('pending'), () => row('new')]);
    const started = Date.now();
    const waiting = service.awaitOrder('acct-1', 'o-1', (r) => r.status !== 'pending', started + 5000);
    await new Promise((r) => setTimeout(r, 20));
    const channel = 'stream:orders:acct-1';
    listeners.get(channel)!({ channel: 'orders:acct-1', seq: 1, data: { orderId: 'other' } });
    listeners.get(channel)!({ channel: 'orders:acct-1', seq: 2, data: { orderId: 'o-1', status: 'new' } });
    await expect(waiting).resolves.toMatchObject({ status: 'new' });
    // Woken by the update, well before the 250 ms poll.
    expect(Date.now() - started).toBeLessThan(200);
    expect(findOwn).toHaveBeenCalledTimes(2);
    expect(unsubscribed).toEqual([channel]);
  });

  it('answers with what it last read at the deadline, and a failing read is no error', async () => {
    const { service } = setup([
      () => row('pending'),
      () => Promise.reject(new Error('connection terminated')),
    ]);
    await expect(
      service.awaitOrder('acct-1', 'o-1', (r) => r.status !== 'pending', Date.now() + 300),
    ).resolves.toMatchObject({ status: 'pending' });
    const never = setup([() => Promise.reject(new Error('connection terminated'))]);
    await expect(never.service.awaitOrder('acct-1', 'o-1', () => true, Date.now() + 100)).resolves.toBeNull();
  });
});
