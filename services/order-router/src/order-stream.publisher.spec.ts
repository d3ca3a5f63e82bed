import type { RedisService } from '@trading/nest-common';
import { OrderStreamPublisher, type OrderStreamUpdate } from './order-stream.publisher';

// The publisher against a recording stand-in for an ioredis client: what one batch puts in its
// pipeline, in order.

function fakeRedis(fail?: Error) {
  const pipelines: unknown[][][] = [];
  const redis = {
    defineCommand: jest.fn(),
    pipeline: jest.fn(() => {
      const ops: unknown[][] = [];
      pipelines.push(ops);
      const p = {
        del: (...keys: string[]) => (ops.push(['del', ...keys]), p),
        publishStream: (...args: string[]) => (ops.push(['publish', args[3], JSON.parse(args[5])]), p),
        exec: () =>
          fail ? Promise.reject(fail) : Promise.resolve(ops.map(() => [null, 1] as [null, number])),
      };
      return p;
    }),
  };
  return { publisher: new OrderStreamPublisher({ redis } as unknown as RedisService), pipelines };
}

type OrderUpdate = Extract<OrderStreamUpdate, { type: 'order' }>;
const update = (orderId: string, status: string, extra: Partial<OrderUpdate> = {}): OrderUpdate => ({
  type: 'order',
  orderId,
  symbol: 'AB-USDT',
  status,
  reason: null,
  ...extra,
});

describe('OrderStreamPublisher', () => {
  it('deletes the accepted-order records of final orders in the pipeline of the batch’s updates', async () => {
    const { publisher, pipelines } = fakeRedis();
    await publisher.publish(
      new Map<string, OrderStreamUpdate[]>([
        [
          'a1',
          [
            update('o-filled', 'filled'),
            update('o-partial', 'partially_filled'),
            update('o-rejected', 'rejected', { reason: 'INSUFFICIENT_FUNDS' }),
          ],
        ],
        [
          'a2',
          [
            update('o-new', 'new'),
            update('o-cancelled', 'cancelled'),
            update('o-expired', 'expired'),
            update('o-open', 'new', { reason: 'AMEND_INSUFFICIENT_FUNDS', event: 'amend_rejected' }),
            {
              type: 'withdrawal',
              commandId: 'w-1',
              asset: 'USDT',
              status: 'rejected',
              reason: 'INSUFFICIENT_FUNDS',
            },
          ],
        ],
      ]),
      ['o-retried'],
    );
    // One pipeline (one round trip); the deletes first, so whoever sees an update knows the record is gone.
    expect(pipelines).toHaveLength(1);
    const [ops] = pipelines;
    expect(ops[0]).toEqual([
      'del',
      'accepted:o-retried',
      'accepted:o-filled',
      'accepted:o-rejected',
      'accepted:o-cancelled',
      'accepted:o-expired',
    ]);
    expect(
      ops.slice(1).map((o) => [o[1], (o[2] as { orderId?: string; commandId?: string }).orderId ?? 'w-1']),
    ).toEqual([
      ['orders:a1', 'o-filled'],
      ['orders:a1', 'o-partial'],
      ['orders:a1', 'o-rejected'],
      ['orders:a2', 'o-new'],
      ['orders:a2', 'o-cancelled'],
      ['orders:a2', 'o-expired'],
      ['orders:a2', 'o-open'],
      ['orders:a2', 'w-1'],
    ]);
  });

  it('sends nothing for a batch without updates or records to forget, and only deletes when there are no updates', async () => {
    const { publisher, pipelines } = fakeRedis();
    await publisher.publish(new Map());
    expect(pipelines).toEqual([]);
    await publisher.publish(new Map(), ['o-retried']);
    expect(pipelines).toEqual([[['del', 'accepted:o-retried']]]);
  });

  it('is best effort: a Redis failure does not fail the batch', async () => {
    const { publisher, pipelines } = fakeRedis(new Error('Connection is closed.'));
    await expect(publisher.publish(new Map([['a1', [update('o-1', 'filled')]]]))).resolves.toBeUndefined();
    expect(pipelines).toHaveLength(1);
  });
});
