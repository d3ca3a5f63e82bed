import { NIL, type OrderStore } from './order-store';

const INITIAL_SLOTS = 1024;

/** FNV-1a over the UTF-16 code units, then the murmur3 finalizer to spread the bits (int32). */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Order id -> handle of the live order (resting or pending stop) with that id.
 *
 * Open addressing with linear probing over two Int32Arrays (the id's hash and handle + 1, 0 =
 * empty), load factor at most 1/2, backward-shift deletion (no tombstones). Replaces a
 * `Map<string, number>`: a V8 Map lookup walks a bucket chain and compares the key against each
 * chained key string (a cache miss per candidate, most of them on strings scattered over the
 * heap); here a probe compares 32-bit hashes stored in the table and touches the order's id only
 * on a hash match. The hash of every indexed order is kept in its store row, so removal never
 * rehashes a string.
 */
export class IdIndex {
  size = 0;
  private hashes: Int32Array = new Int32Array(INITIAL_SLOTS);
  private keys: Int32Array = new Int32Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private readonly store: OrderStore;

  constructor(store: OrderStore) {
    this.store = store;
  }

  /** Handle of the indexed order with this id (and `hash = idHash(id)`), NIL when none. */
  find(id: string, hash: number): number {
    const mask = this.mask;
    const hashes = this.hashes;
    const keys = this.keys;
    let i = hash & mask;
    for (;;) {
      const k = keys[i];
      if (k === 0) return NIL;
      if (hashes[i] === hash && this.store.id(k - 1) === id) return k - 1;
      i = (i + 1) & mask;
    }
  }

  /** Indexes order h, whose id (hashing to `hash`) must not be indexed yet. */
  insert(h: number, hash: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    const mask = this.mask;
    const keys = this.keys;
    let i = hash & mask;
    while (keys[i] !== 0) i = (i + 1) & mask;
    keys[i] = h + 1;
    this.hashes[i] = hash;
    this.size++;
  }

  /** Removes order h (indexed under `hash`). */
  remove(h: number, hash: number): void {
    const mask = this.mask;
    const keys = this.keys;
    const hashes = this.hashes;
    const key = h + 1;
    let i = hash & mask;
    while (keys[i] !== key) i = (i + 1) & mask;
    // Backward shift: pull later entries of the probe run into the hole when their home slot
    // allows it, so lookups never need tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === 0) break;
      const home = hashes[j] & mask;
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        keys[i] = k;
        hashes[i] = hashes[j];
        i = j;
      }
    }
    keys[i] = 0;
    this.size--;
  }

  private resize(slots: number): void {
    const oldKeys = this.keys;
    const oldHashes = this.hashes;
    this.keys = new Int32Array(slots);
    this.hashes = new Int32Array(slots);
    this.mask = slots - 1;
    const mask = this.mask;
    for (let s = 0; s < oldKeys.length; s++) {
      const k = oldKeys[s];
      if (k === 0) continue;
      const hash = oldHashes[s];
      let i = hash & mask;
      while (this.keys[i] !== 0) i = (i + 1) & mask;
      this.keys[i] = k;
      this.hashes[i] = hash;
    }
  }
}
