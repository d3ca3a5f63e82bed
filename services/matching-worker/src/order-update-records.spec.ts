import { orderUpdateBatchSchema, type OrderUpdate } from '@trading/contracts';
import { partitionFor } from '@trading/kafka';
import { OrderUpdateRecords } from './order-update-records';

const PARTITIONS = 12;

function update(accountId: string, seq: number, orderId = `o-${seq}`): OrderUpdate {
  return {
    accountId,
    orderId,
    symbol: 'AB-USDT',
    seq,
    receivedAt: 1,
    emittedAt: 2,
    event: { type: 'cancelled', seq, orderId, accountId, remainingQty: 1, reason: 'USER' },
  };
}

/** The first id `prefix-<i>` whose partition passes `ok`. */
function accountWhere(prefix: string, ok: (p: number) => boolean): string {
  for (let i = 0; ; i++) if (ok(partitionFor(`${prefix}-${i}`, PARTITIONS))) return `${prefix}-${i}`;
}

/** Three accounts on three different partitions. */
function accounts(): { a: string; b: string; c: string } {
  const a = 'acct-a';
  const pa = partitionFor(a, PARTITIONS);
  const b = accountWhere('acct', (p) => p !== pa);
  const pb = partitionFor(b, PARTITIONS);
  return { a, b, c: accountWhere('acct', (p) => p !== pa && p !== pb) };
}

const decode = (value: unknown) => orderUpdateBatchSchema.parse(JSON.parse(String(value))).updates;

describe('OrderUpdateRecords', () => {
  it('makes one record per destination partition, in engine order, keyed by its first account', () => {
    const { a, b, c } = accounts();
    // Another account on a's partition: its updates share a's record.
    const twin = accountWhere('twin', (p) => p === partitionFor(a, PARTITIONS));
    const r = new OrderUpdateRecords(PARTITIONS);
    const sequence = [
      update(b, 1),
      update(a, 2),
      update(c, 3),
      update(twin, 4),
      update(b, 5),
      update(a, 6),
      update(c, 7),
      update(a, 8),
    ];
    for (const u of sequence) r.add(u);
    expect(r.size).toBe(8);
    const records = r.records();
    expect(records).toHaveLength(3);
    const partitions = records.map((x) => x.message.partition);
    expect(new Set(partitions).size).toBe(3);
    for (const { message, updates } of records) {
      const inside = decode(message.value);
      expect(inside).toHaveLength(updates);
      // Every update in a record belongs to the record's partition, and so does its key.
      for (const u of inside) expect(partitionFor(u.accountId, PARTITIONS)).toBe(message.partition);
      expect(message.key).toBe(inside[0].accountId);
      expect(partitionFor(message.key as string, PARTITIONS)).toBe(message.partition);
    }
    const seqsOn = (account: string) =>
      decode(
        records.find((x) => x.message.partition === partitionFor(account, PARTITIONS))!.message.value,
      ).map((u) => u.seq);
    expect(seqsOn(b)).toEqual([1, 5]);
    expect(seqsOn(a)).toEqual([2, 4, 6, 8]);
    expect(seqsOn(c)).toEqual([3, 7]);
    // Nothing lost, nothing repeated, the elements exactly what was added.
    const all = records.flatMap((x) => decode(x.message.value));
    expect(all.sort((x, y) => x.seq - y.seq)).toEqual(sequence);
  });

  it('makes no record when nothing was added', () => {
    expect(new OrderUpdateRecords(PARTITIONS).records()).toEqual([]);
  });

  it('splits a partition that does not fit in one record over consecutive records, in order', () => {
    const { a, b } = accounts();
    const one = JSON.stringify({ updates: [update(a, 1)] }).length;
    // Room for about three updates per record.
    const r = new OrderUpdateRecords(PARTITIONS, one * 3);
    for (let seq = 1; seq <= 10; seq++) r.add(update(seq === 5 ? b : a, seq));
    const records = r.records();
    for (const { message } of records) expect(String(message.value).length).toBeLessThanOrEqual(one * 3);
    const onA = records.filter((x) => x.message.partition === partitionFor(a, PARTITIONS));
    expect(onA.length).toBeGreaterThan(2);
    expect(onA.flatMap((x) => decode(x.message.value).map((u) => u.seq))).toEqual([
      1, 2, 3, 4, 6, 7, 8, 9, 10,
    ]);
    expect(records.filter((x) => x.message.partition === partitionFor(b, PARTITIONS))).toHaveLength(1);
  });

  it('refuses to produce an invalid update', () => {
    const r = new OrderUpdateRecords(PARTITIONS);
    r.add(update('acct-a', 1));
    r.add({ ...update('acct-a', 2), seq: 0 });
    expect(() => r.records()).toThrow(/seq/);
  });
});
