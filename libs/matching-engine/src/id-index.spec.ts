import fc from 'fast-check';
import { IdIndex, idHash } from './id-index';
import { NIL, OrderStore } from './order-store';

// The engine's property tests use a dozen ids; this drives the open-addressing index through
// resizes, long probe runs (a deliberately weak hash below) and backward-shift deletions.
describe('IdIndex', () => {
  function check(ops: [boolean, number][], hashOf: (id: string) => number): void {
    const store = new OrderStore();
    const index = new IdIndex(store);
    const model = new Map<string, number>();
    for (const [add, n] of ops) {
      const id = `id-${n}`;
      const h = hashOf(id);
      const found = index.find(id, h);
      expect(found).toBe(model.get(id) ?? NIL);
      if (add && found === NIL) {
        const o = store.alloc(id, 'a', true, 0, 0, 0, false, 1, 1, 0, 0, 0, -1);
        store.setIdHash(o, h);
        index.insert(o, h);
        model.set(id, o);
      } else if (!add && found !== NIL) {
        index.remove(found, store.idHash(found));
        store.release(found);
        model.delete(id);
      }
      expect(index.size).toBe(model.size);
    }
    for (const [id, o] of model) expect(index.find(id, hashOf(id))).toBe(o);
  }

  const ops = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), {
    minLength: 1,
    maxLength: 6000,
  });

  it('agrees with a Map under random inserts and removals', () => {
    fc.assert(
      fc.property(ops, (o) => check(o, idHash)),
      { numRuns: 30 },
    );
  });

  it('agrees with a Map when hashes collide heavily (long probe runs, wrap-around)', () => {
    // 16 distinct hash values, all landing near the end of the table so probe runs wrap.
    const weak = (id: string): number => (idHash(id) & 15) | 0x3f0;
    fc.assert(
      fc.property(ops, (o) => check(o.slice(0, 1500), weak)),
      { numRuns: 20 },
    );
  });
});
