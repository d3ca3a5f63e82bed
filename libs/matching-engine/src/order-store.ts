// Internal numeric codes keep the hot path on small integers instead of string compares.
export const STP_NONE = 0;
export const STP_CANCEL_TAKER = 1;
export const STP_CANCEL_MAKER = 2;
export const STP_CANCEL_BOTH = 3;

export const TIF_GTC = 0;
export const TIF_IOC = 1;
export const TIF_FOK = 2;

export const KIND_LIMIT = 0;
export const KIND_MARKET = 1;
export const KIND_STOP_LIMIT = 2;
export const KIND_STOP_MARKET = 3;

/** "No order" / "no level" in the int links. */
export const NIL = -1;

// Rows per page (2^PAGE_BITS). A page is allocated once and never copied or moved.
const PAGE_BITS = 12;
const PAGE_ROWS = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_ROWS - 1;
// One row: 8 float64 fields then 10 int32 fields, 104 bytes.
const ROW_F64 = 13;
const ROW_I32 = 26;
const I32_BASE = 16;

// Field offsets inside a row, for hot paths that fetch a row once ({@link OrderStore.fPage},
// {@link OrderStore.fRow}) instead of going through one accessor per field.
export const F_PRICE = 0;
export const F_QTY = 1;
export const F_REM = 2;
export const F_VIS = 3;
export const F_DISP = 4;
export const I_NEXT = 0;
export const I_PREV = 1;
export const I_LEVEL = 2;
export const I_IS_BUY = 3;

/**
 * Every live order (taker being matched, resting maker, pending stop) as one fixed-size row of
 * binary storage, addressed by an int handle, instead of one object per order.
 *
 * Rows live in pages of 4096 rows; a page is one ArrayBuffer seen through a Float64Array (prices,
 * quantities: exact for safe integers) and an Int32Array (links and small codes), the strings
 * (order id, account id) in a plain array per page. Handle h is row (h & PAGE_MASK) of page
 * (h >>> PAGE_BITS). Why this shape:
 *
 * - No per-order objects: a million resting orders are ~250 flat buffers the garbage collector
 *   neither traces nor copies, instead of a million objects promoted through the young
 *   generation and traced on every full collection.
 * - Row-major: the fields of one order sit together (104 bytes, about two cache lines), so
 *   touching a random order costs ~2 cache misses, not one per field array.
 * - Pages, not one growable array: growing a flat typed array copies it and reports hundreds of
 *   MB of new external memory at once, which makes V8 run full mark-compact collections of the
 *   caller's whole heap (measured: three ~150 ms pauses per place-rest run). Pages grow the
 *   store 416 KiB at a time and are never copied.
 *
 * Handles of finished orders go to a free list and are reused, so steady churn allocates
 * nothing. Accessors are tiny methods that the optimizing compiler inlines.
 */
export class OrderStore {
  // Handles ever handed out (the high-water mark); handles >= top are unused.
  top = 0;
  private readonly f64: Float64Array[] = [];
  private readonly i32: Int32Array[] = [];
  private readonly ids: string[][] = [];
  private readonly accts: string[][] = [];
  private readonly free: number[] = [];

  /** A fresh handle holding the given order, not linked into any level. */
  alloc(
    id: string,
    acct: string,
    isBuy: boolean,
    kind: number,
    tif: number,
    stp: number,
    postOnly: boolean,
    price: number,
    qty: number,
    disp: number,
    stopPx: number,
    prot: number,
    budget: number,
  ): number {
    let h: number;
    if (this.free.length > 0) {
      h = this.free.pop() as number;
    } else {
      h = this.top++;
      if ((h & PAGE_MASK) === 0) this.addPage();
    }
    const p = h >>> PAGE_BITS;
    const r = h & PAGE_MASK;
    this.ids[p][r] = id;
    this.accts[p][r] = acct;
    const f = this.f64[p];
    const fb = r * ROW_F64;
    f[fb] = price;
    f[fb + 1] = qty;
    f[fb + 2] = qty;
    f[fb + 3] = qty;
    f[fb + 4] = disp;
    f[fb + 5] = stopPx;
    f[fb + 6] = prot;
    f[fb + 7] = budget;
    const i = this.i32[p];
    const ib = r * ROW_I32 + I32_BASE;
    i[ib] = NIL;
    i[ib + 1] = NIL;
    i[ib + 2] = NIL;
    i[ib + 3] = isBuy ? 1 : 0;
    i[ib + 4] = kind;
    i[ib + 5] = tif;
    i[ib + 6] = stp;
    i[ib + 7] = postOnly ? 1 : 0;
    i[ib + 8] = 0;
    i[ib + 9] = 0;
    return h;
  }

  /** Only for orders no structure references any more (not resting, not pending, not queued). */
  release(h: number): void {
    // Drop the strings so a finished order pins no memory.
    this.ids[h >>> PAGE_BITS][h & PAGE_MASK] = '';
    this.accts[h >>> PAGE_BITS][h & PAGE_MASK] = '';
    this.free.push(h);
  }

  /** Float64 page holding order h; its fields start at {@link OrderStore.fRow}(h). */
  fPage(h: number): Float64Array {
    return this.f64[h >>> PAGE_BITS];
  }

  static fRow(h: number): number {
    return (h & PAGE_MASK) * ROW_F64;
  }

  /** Int32 page holding order h; its fields start at {@link OrderStore.iRow}(h). */
  iPage(h: number): Int32Array {
    return this.i32[h >>> PAGE_BITS];
  }

  static iRow(h: number): number {
    return (h & PAGE_MASK) * ROW_I32 + I32_BASE;
  }

  id(h: number): string {
    return this.ids[h >>> PAGE_BITS][h & PAGE_MASK];
  }

  acct(h: number): string {
    return this.accts[h >>> PAGE_BITS][h & PAGE_MASK];
  }

  /** Limit price in ticks; 0 for market orders (see prot). */
  price(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 0];
  }

  setPrice(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 0] = v;
  }

  /** Total quantity after amends; filled = qty - rem. */
  qty(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 1];
  }

  setQty(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 1] = v;
  }

  /** Remaining quantity. */
  rem(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 2];
  }

  setRem(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 2] = v;
  }

  /** Current displayed slice (rem for non-icebergs). */
  vis(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 3];
  }

  setVis(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 3] = v;
  }

  /** Iceberg slice size, 0 when not an iceberg. */
  disp(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 4];
  }

  setDisp(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 4] = v;
  }

  /** Stop trigger price (stops only). */
  stopPx(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 5];
  }

  setStopPx(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 5] = v;
  }

  /** Protection price of a market / stop-market order, 0 when none. */
  prot(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 6];
  }

  setProt(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 6] = v;
  }

  /** Quote budget left (ticks x lots), -1 when the order has none. */
  budget(h: number): number {
    return this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 7];
  }

  setBudget(h: number, v: number): void {
    this.f64[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_F64 + 7] = v;
  }

  /** Next order in the level FIFO (NIL at the tail). */
  next(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 0];
  }

  setNext(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 0] = v;
  }

  /** Previous order in the level FIFO (NIL at the head). */
  prev(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 1];
  }

  setPrev(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 1] = v;
  }

  /** Slot of the level the order rests in, NIL when not resting. */
  level(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 2];
  }

  setLevel(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 2] = v;
  }

  /** 1 buy, 0 sell. */
  isBuy(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 3];
  }

  setIsBuy(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 3] = v;
  }

  /** KIND_* code. */
  kind(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 4];
  }

  setKind(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 4] = v;
  }

  /** TIF_* code. */
  tif(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 5];
  }

  setTif(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 5] = v;
  }

  /** STP_* code. */
  stp(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 6];
  }

  setStp(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 6] = v;
  }

  /** 1 when post-only. */
  postOnly(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 7];
  }

  setPostOnly(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 7] = v;
  }

  /** 1 while a stop waits for its trigger. */
  pending(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 8];
  }

  setPending(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 8] = v;
  }

  /** Hash of the order id ({@link idHash}), kept so the id index never rehashes a string. */
  idHash(h: number): number {
    return this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 9];
  }

  setIdHash(h: number, v: number): void {
    this.i32[h >>> PAGE_BITS][(h & PAGE_MASK) * ROW_I32 + I32_BASE + 9] = v;
  }

  private addPage(): void {
    const buf = new ArrayBuffer(PAGE_ROWS * 104);
    this.f64.push(new Float64Array(buf));
    this.i32.push(new Int32Array(buf));
    this.ids.push(new Array<string>(PAGE_ROWS).fill(''));
    this.accts.push(new Array<string>(PAGE_ROWS).fill(''));
  }
}
