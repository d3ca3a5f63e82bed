import { Logger } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { TOPICS, type OrderUpdate } from '@trading/contracts';
import type { OrderEventRow, OrderStateRow, UpdatesBatch } from '@trading/db';
import { order, P, record, routerHarness, SYMBOL } from './testing/router-harness';

// The router's consumption of orders.updates.v2 through its real onBatch, with in-memory
// repositories: batch records are unpacked in order, a malformed record goes to the dead letter
// on its own, and the rest (events, order state, offset) is what one record per update gave.

function accepted(orderId: string, accountId: string, seq: number, qty: number): OrderUpdate {
  return {
    accountId,
    orderId,
    symbol: SYMBOL,
    seq,
    receivedAt: 1,
    emittedAt: 2,
    event: { type: 'accepted', seq, orderId, accountId, side: 'buy', orderType: 'limit', price: 100, qty },
  };
}

function trade(orderId: string, accountId: string, seq: number, remaining: number): OrderUpdate {
  return {
    accountId,
    orderId,
    symbol: SYMBOL,
    seq,
    receivedAt: 1,
    emittedAt: 2,
    event: {
      type: 'trade',
      seq,
      price: 100,
      qty: 1,
      makerOrderId: 'maker-order',
      takerOrderId: orderId,
      makerAccountId: 'maker',
      takerAccountId: accountId,
      takerSide: 'buy',
      makerRemainingQty: 0,
      takerRemainingQty: remaining,
    },
  };
}

function harness(states: OrderStateRow[]) {
  const h = routerHarness({ orders: states });
  return {
    ...h,
    deliver: (messages: KafkaMessage[]) => h.deliver(TOPICS.orderUpdates.name, messages),
    /** The committed batches of updates. */
    get committed(): UpdatesBatch[] {
      return h.committed.flatMap((b) => (b.kind === 'updates' ? [b.batch] : []));
    },
  };
}

const seqsOf = (events: OrderEventRow[]) => events.map((e) => `${e.orderId}@${e.seq}`);

describe('OrderRouterService on orders.updates.v2', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('reads an open order from the database once, and again only after a failed batch', async () => {
    const h = harness([order('o1', 'a1', 3), order('o2', 'a2', 1)]);
    await h.deliver([record(30, { updates: [accepted('o1', 'a1', 1, 3), accepted('o2', 'a2', 2, 1)] })]);
    await h.deliver([record(31, { updates: [trade('o1', 'a1', 3, 2)] })]);
    expect(h.reads).toEqual([['o1', 'o2']]);
    expect(h.committed[1].states).toEqual([
      expect.objectContaining({ orderId: 'o1', filledQty: 1, lastSeq: 3 }),
    ]);

    // A failed commit leaves memory ahead of the database: the partition's orders are read again.
    h.failCommit();
    await expect(h.deliver([record(32, { updates: [trade('o1', 'a1', 4, 1)] })])).rejects.toThrow(
      /went away/,
    );
    await h.deliver([record(32, { updates: [trade('o1', 'a1', 4, 1)] })]);
    expect(h.reads).toEqual([['o1', 'o2'], ['o1']]);

    // The failure dropped all of the partition's orders (o2 too); o1, read again, stays in memory.
    await h.deliver([record(33, { updates: [trade('o2', 'a2', 5, 0), trade('o1', 'a1', 6, 0)] })]);
    expect(h.reads).toEqual([['o1', 'o2'], ['o1'], ['o2']]);
    expect(h.committed.at(-1)!.states).toEqual([
      expect.objectContaining({ orderId: 'o2', status: 'filled' }),
      expect.objectContaining({ orderId: 'o1', status: 'filled' }),
    ]);
  });

  it('applies the updates of every batch record in record order, then engine order', async () => {
    const h = harness([order('o1', 'a1', 3), order('o2', 'a2', 1)]);
    const resolved = await h.deliver([
      record(10, {
        updates: [accepted('o1', 'a1', 1, 3), accepted('o2', 'a2', 2, 1), trade('o1', 'a1', 3, 2)],
      }),
      record(12, { updates: [trade('o1', 'a1', 7, 0), trade('o2', 'a2', 8, 0)] }),
    ]);
    expect(h.deadLettered).toEqual([]);
    expect(h.committed).toHaveLength(1);
    const b = h.committed[0];
    expect(seqsOf(b.events)).toEqual(['o1@1', 'o2@2', 'o1@3', 'o1@7', 'o2@8']);
    expect(b.offset).toEqual({
      groupId: 'order-router',
      topic: TOPICS.orderUpdates.name,
      partition: P,
      nextOffset: 13,
    });
    const states = new Map(b.states.map((s) => [s.orderId, s]));
    expect(states.get('o1')).toMatchObject({ status: 'filled', filledQty: 2, lastSeq: 7 });
    expect(states.get('o2')).toMatchObject({ status: 'filled', filledQty: 1, lastSeq: 8 });
    expect(resolved).toEqual(['12']);
  });

  it('dead-letters a malformed record on its own and applies the records around it', async () => {
    const h = harness([order('o1', 'a1', 3)]);
    await h.deliver([
      record(20, { updates: [accepted('o1', 'a1', 1, 3)] }),
      record(21, { updates: [] }),
      record(22, accepted('o1', 'a1', 2, 3)), // a v1-shaped record is not a batch
      record(23, 'not json'),
      record(24, { updates: [trade('o1', 'a1', 4, 2)] }),
    ]);
    expect(h.deadLettered.map((d) => [d.topic, d.value.sourceOffset])).toEqual([
      [TOPICS.deadLetter.name, '21'],
      [TOPICS.deadLetter.name, '22'],
      [TOPICS.deadLetter.name, '23'],
    ]);
    expect(h.deadLettered[0].value.reason).toMatch(/^updates:/);
    expect(h.committed).toHaveLength(1);
    expect(seqsOf(h.committed[0].events)).toEqual(['o1@1', 'o1@4']);
    expect(h.committed[0].offset.nextOffset).toBe(25);
    expect(h.committed[0].states[0]).toMatchObject({ status: 'partially_filled', filledQty: 1, lastSeq: 4 });
  });
});
