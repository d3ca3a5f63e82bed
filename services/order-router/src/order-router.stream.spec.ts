import { TOPICS } from '@trading/contracts';
import type { AccountEvent } from '@trading/risk-engine';
import { P, placeCommand as place, record, routerHarness } from './testing/router-harness';

// The own-orders stream's numbering in the router (ADR 0014): each account's seq continues from
// what the database has, is committed with the batch that produced the updates (records in the
// stream outbox), and the records reach account.events.v1 only after the commit; a failed commit
// produces nothing and the redelivery numbers the same updates the same way; a partition taken
// over sends what its outbox still holds before anything new.

const COMMANDS = TOPICS.orderCommands.name;

function harness(seqs: [string, number][] = []) {
  const h = routerHarness({
    balances: [
      { accountId: 'a1', asset: 'USDT', available: 10_000n, held: 0n },
      { accountId: 'a2', asset: 'USDT', available: 10_000n, held: 0n },
    ],
  });
  for (const [a, q] of seqs) h.streamSeqs.set(a, q);
  return h;
}

const produced = (h: ReturnType<typeof harness>) =>
  h.accountEvents.map((e) => {
    const v = e.value as AccountEvent;
    return [e.key, v.seq, v.data.type, 'status' in v.data ? v.data.status : v.data.available];
  });

describe('OrderRouterService: the own-orders stream', () => {
  it('numbers each account’s updates from its stored seq, balances after orders, and commits them with the batch', async () => {
    const h = harness([['a1', 41]]);
    await h.deliver(COMMANDS, [
      record(100, place()),
      record(101, place({ accountId: 'a2' }), 'a2'),
      record(102, place({ qty: 1 })),
    ]);
    expect(produced(h)).toEqual([
      ['a1', 42, 'order', 'pending'],
      ['a1', 43, 'order', 'pending'],
      ['a1', 44, 'balance', '6000'],
      ['a2', 1, 'order', 'pending'],
      ['a2', 2, 'balance', '7000'],
    ]);
    const stream = h.committed[0].batch.stream!;
    expect(stream.partition).toBe(P);
    expect(stream.seqs).toEqual([
      ['a1', 44],
      ['a2', 2],
    ]);
    // The outbox row is exactly what was produced, in order.
    expect(JSON.parse(stream.records!)).toEqual(h.accountEvents.map((e) => e.value));
    expect(h.accountEvents.every((e) => e.topic === TOPICS.accountEvents.name)).toBe(true);
    // The next batch continues without a gap.
    await h.deliver(COMMANDS, [record(103, place())]);
    expect(produced(h).slice(5)).toEqual([
      ['a1', 45, 'order', 'pending'],
      ['a1', 46, 'balance', '3000'],
    ]);
  });

  it('produces nothing of a batch whose commit fails; the redelivery numbers the same updates the same', async () => {
    const h = harness([['a1', 7]]);
    const batch = [record(100, place()), record(101, place())];
    h.failCommit();
    await expect(h.deliver(COMMANDS, batch)).rejects.toThrow(/went away/);
    expect(h.accountEvents).toEqual([]);
    await h.deliver(COMMANDS, batch);
    expect(produced(h)).toEqual([
      ['a1', 8, 'order', 'pending'],
      ['a1', 9, 'order', 'pending'],
      ['a1', 10, 'balance', '4000'],
    ]);
  });

  it('sends the records a previous owner committed but did not send before the partition’s next batch', async () => {
    const h = harness([['a1', 3]]);
    const unsent: AccountEvent[] = [
      { accountId: 'a1', seq: 2, data: { type: 'balance', asset: 'USDT', available: '9000', held: '1000' } },
      { accountId: 'a1', seq: 3, data: { type: 'balance', asset: 'USDT', available: '10000', held: '0' } },
    ];
    h.streamOutbox.push({ partition: P, records: JSON.stringify(unsent) });
    await h.deliver(COMMANDS, [record(100, place())]);
    expect(produced(h)).toEqual([
      ['a1', 2, 'balance', '9000'],
      ['a1', 3, 'balance', '10000'],
      ['a1', 4, 'order', 'pending'],
      ['a1', 5, 'balance', '7000'],
    ]);
    // Sent before this batch began: its commit deletes them (only this batch's row is left).
    expect(h.streamOutbox).toHaveLength(1);
    expect((JSON.parse(h.streamOutbox[0].records) as AccountEvent[]).map((e) => e.seq)).toEqual([4, 5]);
  });
});
