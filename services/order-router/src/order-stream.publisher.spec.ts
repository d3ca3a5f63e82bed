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
  it('deletes the accepted-order records of final orders and publishes nothing', async () => {
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
    // One pipeline (one round trip) deleting the records; the updates themselves go to
    // account.events.v1, not to Redis.
    expect(pipelines).toEqual([
      [
        [
          'del',
          'accepted:o-retried',
          'accepted:o-filled',
          'accepted:o-rejected',
          'accepted:o-cancelled',
          'accepted:o-expired',
        ],
      ],
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
