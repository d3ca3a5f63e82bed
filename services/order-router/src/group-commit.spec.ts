import { GroupCommitter } from './group-commit';

/** A database call the test completes by hand. */
function gate() {
  const calls: { items: number[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  const call = (items: number[]) =>
    new Promise<void>((resolve, reject) => {
      calls.push({ items, resolve, reject });
    });
  return { calls, call };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommitter', () => {
  it('commits the first batch at once and the batches that arrive meanwhile together, in order', async () => {
    const db = gate();
    const sizes: number[] = [];
    const c = new GroupCommitter<number>(db.call, (i) => db.call([i]), { observe: (n) => sizes.push(n) });
    const done: number[] = [];
    const first = c.submit(1).then(() => done.push(1));
    await tick();
    expect(db.calls.map((x) => x.items)).toEqual([[1]]);
    const rest = [2, 3, 4].map((i) => c.submit(i).then(() => done.push(i)));
    await tick();
    expect(db.calls).toHaveLength(1); // waiting for the call in flight
    db.calls[0].resolve();
    await first;
    await tick();
    expect(db.calls.map((x) => x.items)).toEqual([[1], [2, 3, 4]]);
    expect(done).toEqual([1]);
    db.calls[1].resolve();
    await Promise.all(rest);
    expect(done).toEqual([1, 2, 3, 4]);
    expect(sizes).toEqual([1, 3]);
  });

  it('retries a failed group batch by batch, so only the bad batch fails', async () => {
    const committed: number[][] = [];
    const c = new GroupCommitter<number>(
      async (items) => {
        if (items.includes(3)) throw new Error('check constraint');
        committed.push(items);
      },
      async (i) => {
        if (i === 3) throw new Error('check constraint');
        committed.push([i]);
      },
    );
    const results = await Promise.allSettled([1, 2, 3, 4].map((i) => c.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(committed).toEqual([[1], [2], [4]]);
  });

  it('fails the whole group at once when the database is unreachable', async () => {
    let calls = 0;
    const down = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    const c = new GroupCommitter<number>(
      async () => {
        calls++;
        throw down;
      },
      async () => {
        calls++;
        throw down;
      },
      { isolate: (err) => (err as { code?: string }).code !== 'ECONNREFUSED' },
    );
    const results = await Promise.allSettled([1, 2, 3].map((i) => c.submit(i)));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(calls).toBe(2); // the first alone, then the two that waited as one group: no retries one by one
  });

  it('keeps going after a failure and caps the group size', async () => {
    const groups: number[][] = [];
    let fail = true;
    const c = new GroupCommitter<number>(
      async (items) => {
        groups.push(items);
      },
      async (i) => {
        if (fail) {
          fail = false;
          throw new Error('once');
        }
        groups.push([i]);
      },
      { maxGroup: 2 },
    );
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => c.submit(i)));
    expect(results.map((r) => r.status)).toEqual([
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(groups).toEqual([
      [2, 3],
      [4, 5],
    ]);
  });
});
