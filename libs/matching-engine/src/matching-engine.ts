import { BookSide } from './book-side';
import {
  type AmendCommand,
  type CancelCommand,
  type CancelReason,
  type DepthLevel,
  type DepthView,
  type EngineCommand,
  type EngineEvent,
  type EngineSnapshot,
  type ExpireReason,
  type NewOrderCommand,
  type OrderType,
  type OrderView,
  type RejectReason,
  type Side,
  type SnapshotOrder,
  type SnapshotStop,
  type SymbolConfig,
} from './engine.types';
import { IdIndex, idHash } from './id-index';
import { floorDiv, isSafePositive } from './int-math';
import {
  KIND_LIMIT,
  KIND_MARKET,
  KIND_STOP_LIMIT,
  KIND_STOP_MARKET,
  F_DISP,
  F_PRICE,
  F_QTY,
  F_REM,
  F_VIS,
  I_IS_BUY,
  NIL,
  OrderStore,
  STP_CANCEL_BOTH,
  STP_CANCEL_MAKER,
  STP_CANCEL_TAKER,
  STP_NONE,
  TIF_FOK,
  TIF_GTC,
  TIF_IOC,
} from './order-store';
import { type PriceLevel } from './price-level';
import { FNV_OFFSET, fnvNumber, fnvString } from './state-hash';
import { StopBook } from './stop-book';

const KIND_NAMES: readonly OrderType[] = ['limit', 'market', 'stop-limit', 'stop-market'];

const MATCH_DONE = 0;
const MATCH_SELF_TRADE = 1;
const MATCH_BUDGET = 2;

function sideName(isBuy: boolean): Side {
  return isBuy ? 'buy' : 'sell';
}

function kindCode(t: unknown): number {
  switch (t) {
    case 'limit':
      return KIND_LIMIT;
    case 'market':
      return KIND_MARKET;
    case 'stop-limit':
      return KIND_STOP_LIMIT;
    case 'stop-market':
      return KIND_STOP_MARKET;
    default:
      return -1;
  }
}

function tifCode(t: unknown): number {
  switch (t) {
    case undefined:
    case 'GTC':
      return TIF_GTC;
    case 'IOC':
      return TIF_IOC;
    case 'FOK':
      return TIF_FOK;
    default:
      return -1;
  }
}

function stpCode(s: unknown): number {
  switch (s) {
    case undefined:
    case 'none':
      return STP_NONE;
    case 'cancel-taker':
      return STP_CANCEL_TAKER;
    case 'cancel-maker':
      return STP_CANCEL_MAKER;
    case 'cancel-both':
      return STP_CANCEL_BOTH;
    default:
      return -1;
  }
}

function optionalLimit(v: number | undefined, what: string): number {
  if (v === undefined) return -1;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`invalid symbol config: ${what}`);
  return v;
}

/**
 * Deterministic price-time-priority matching engine for one symbol. Feed it commands with
 * {@link MatchingEngine.process}; it appends the resulting events to the caller's array.
 * No I/O, no clocks, no randomness: the same commands always give the same events.
 */
export class MatchingEngine {
  private readonly cfg: SymbolConfig;
  // Every live order is a handle into this struct-of-arrays store (see order-store.ts).
  private readonly store = new OrderStore();
  // Level slot -> level, shared by both sides.
  private readonly levelTable: PriceLevel[] = [];
  private readonly bids = new BookSide(true, this.store, this.levelTable);
  private readonly asks = new BookSide(false, this.store, this.levelTable);
  private readonly stops = new StopBook(this.store);
  // Order id -> handle, for resting orders and pending stops.
  private readonly index = new IdIndex(this.store);
  // Stops triggered and waiting their turn in the current cascade (FIFO).
  private readonly triggerQueue: number[] = [];
  private readonly minQty: number;
  private readonly minNotional: number;
  // -1 when the bound is not configured.
  private readonly bandMin: number;
  private readonly bandMax: number;
  private readonly bandDev: number;
  private seqNo = 0;
  // 0 until the first trade (prices are >= 1).
  private last = 0;
  private offset: number | null = null;

  /** @throws Error when the config is not made of safe non-negative integers. */
  constructor(config: SymbolConfig) {
    if (typeof config.symbol !== 'string' || config.symbol.length === 0)
      throw new Error('invalid symbol config: symbol');
    if (!isSafePositive(config.tickSize)) throw new Error('invalid symbol config: tickSize');
    if (!isSafePositive(config.lotSize)) throw new Error('invalid symbol config: lotSize');
    if (!isSafePositive(config.minQty)) throw new Error('invalid symbol config: minQty');
    if (!Number.isSafeInteger(config.minNotional) || config.minNotional < 0) {
      throw new Error('invalid symbol config: minNotional');
    }
    const band = config.priceBand;
    this.bandMin = optionalLimit(band?.minPrice, 'priceBand.minPrice');
    this.bandMax = optionalLimit(band?.maxPrice, 'priceBand.maxPrice');
    this.bandDev = optionalLimit(band?.maxDeviationTicks, 'priceBand.maxDeviationTicks');
    this.cfg = JSON.parse(JSON.stringify(config)) as SymbolConfig;
    this.minQty = config.minQty;
    this.minNotional = config.minNotional;
  }

  /** Rebuilds an engine from {@link MatchingEngine.snapshot} output. */
  static restore(snapshot: EngineSnapshot): MatchingEngine {
    if (snapshot.v !== 1) throw new Error(`unsupported snapshot version ${String(snapshot.v)}`);
    const engine = new MatchingEngine(snapshot.config);
    engine.seqNo = snapshot.seq;
    engine.last = snapshot.lastPrice;
    engine.offset = snapshot.inputOffset;
    engine.restoreSide(snapshot.bids, true);
    engine.restoreSide(snapshot.asks, false);
    const st = engine.store;
    for (const s of snapshot.stops) {
      const o = st.alloc(
        s[0],
        s[1],
        s[2] === 0,
        s[3] === 0 ? KIND_STOP_MARKET : KIND_STOP_LIMIT,
        s[7],
        s[9],
        false,
        s[5],
        s[6],
        s[8],
        s[4],
        s[10],
        s[11] === 0 ? -1 : s[11],
      );
      st.setPending(o, 1);
      // Already in trigger order: append as is.
      (s[2] === 0 ? engine.stops.buys : engine.stops.sells).push(o);
      const hash = idHash(s[0]);
      st.setIdHash(o, hash);
      engine.index.insert(o, hash);
    }
    return engine;
  }

  /** Symbol config this engine runs with (a copy). */
  get config(): SymbolConfig {
    return JSON.parse(JSON.stringify(this.cfg)) as SymbolConfig;
  }

  /** Sequence number of the last event emitted (0 before any). */
  get seq(): number {
    return this.seqNo;
  }

  /** Input position of the last command that carried one, null if none did. */
  get inputOffset(): number | null {
    return this.offset;
  }

  /** Last trade price in ticks, null before the first trade. */
  get lastTradePrice(): number | null {
    return this.last === 0 ? null : this.last;
  }

  /** Best bid price in ticks, null when no bids rest. */
  bestBid(): number | null {
    const l = this.bids.best();
    return l === null ? null : l.price;
  }

  /** Best ask price in ticks, null when no asks rest. */
  bestAsk(): number | null {
    const l = this.asks.best();
    return l === null ? null : l.price;
  }

  /** Number of orders resting in the book (pending stops excluded). */
  get restingOrderCount(): number {
    return this.bids.orderCount + this.asks.orderCount;
  }

  /** Number of stop orders waiting for their trigger. */
  get pendingStopCount(): number {
    return this.stops.size;
  }

  /** Top `levels` price levels per side, visible quantity only. */
  depth(levels = 10): DepthView {
    return { bids: this.depthSide(this.bids, levels), asks: this.depthSide(this.asks, levels) };
  }

  /** A live order (resting or pending stop), null when unknown or already done. */
  getOrder(orderId: string): OrderView | null {
    if (typeof orderId !== 'string') return null;
    const o = this.index.find(orderId, idHash(orderId));
    if (o === NIL) return null;
    const s = this.store;
    const pending = s.pending(o) === 1;
    return {
      orderId: s.id(o),
      accountId: s.acct(o),
      side: sideName(s.isBuy(o) === 1),
      orderType: KIND_NAMES[s.kind(o)],
      price: s.price(o),
      qty: s.qty(o),
      remainingQty: s.rem(o),
      visibleQty: pending ? 0 : s.vis(o),
      pending,
    };
  }

  /**
   * Applies one command and appends its events (and those of any stop cascade it causes) to
   * `out`. Never throws on bad input: malformed commands produce a Rejected event.
   */
  process(cmd: EngineCommand, out: EngineEvent[]): void {
    if (cmd === null || typeof cmd !== 'object') {
      this.reject(out, 'unknown', '', '', 'INVALID_COMMAND');
      return;
    }
    switch (cmd.type) {
      case 'new':
        this.newOrder(cmd, out);
        break;
      case 'cancel':
        this.cancel(cmd, out);
        break;
      case 'amend':
        this.amend(cmd, out);
        break;
      default: {
        const id = (cmd as { orderId?: unknown }).orderId;
        this.reject(out, 'unknown', typeof id === 'string' ? id : '', '', 'INVALID_COMMAND');
      }
    }
    const off = cmd.inputOffset;
    if (off !== undefined && Number.isSafeInteger(off)) this.offset = off;
  }

  /** Full state as a versioned JSON-serialisable object. */
  snapshot(): EngineSnapshot {
    const stops: SnapshotStop[] = [];
    const s = this.store;
    const addStop = (o: number): void => {
      stops.push([
        s.id(o),
        s.acct(o),
        s.isBuy(o) === 1 ? 0 : 1,
        s.kind(o) === KIND_STOP_MARKET ? 0 : 1,
        s.stopPx(o),
        s.price(o),
        s.qty(o),
        s.tif(o),
        s.disp(o),
        s.stp(o),
        s.prot(o),
        s.budget(o) < 0 ? 0 : s.budget(o),
      ]);
    };
    this.stops.buys.forEach(addStop);
    this.stops.sells.forEach(addStop);
    return {
      v: 1,
      config: this.config,
      seq: this.seqNo,
      lastPrice: this.last,
      inputOffset: this.offset,
      bids: this.snapshotSide(this.bids),
      asks: this.snapshotSide(this.asks),
      stops,
    };
  }

  /**
   * FNV-1a (32-bit) over the canonical state: seq, last price, input offset, every resting order
   * in priority order and every pending stop. O(live orders); call it at checkpoints, not per
   * command.
   */
  stateHash(): number {
    let h = fnvNumber(FNV_OFFSET, this.seqNo);
    h = fnvNumber(h, this.last);
    h = fnvNumber(h, this.offset === null ? -1 : this.offset);
    const s = this.store;
    for (const side of [this.bids, this.asks]) {
      const levels = side.levels;
      h = fnvNumber(h, side.orderCount);
      for (let i = levels.length - 1; i >= 0; i--) {
        for (let o = levels[i].head; o !== NIL; o = s.next(o)) {
          h = fnvString(fnvString(h, s.id(o)), s.acct(o));
          h = fnvNumber(fnvNumber(fnvNumber(h, s.price(o)), s.qty(o)), s.rem(o));
          h = fnvNumber(fnvNumber(fnvNumber(h, s.vis(o)), s.disp(o)), s.stp(o));
          h = fnvNumber(h, s.postOnly(o));
        }
      }
    }
    for (const list of [this.stops.buys, this.stops.sells]) {
      h = fnvNumber(h, list.length);
      for (const o of list) {
        h = fnvString(fnvString(h, s.id(o)), s.acct(o));
        h = fnvNumber(fnvNumber(fnvNumber(h, s.kind(o)), s.stopPx(o)), s.price(o));
        h = fnvNumber(fnvNumber(fnvNumber(h, s.qty(o)), s.tif(o)), s.disp(o));
        h = fnvNumber(fnvNumber(fnvNumber(h, s.stp(o)), s.prot(o)), s.budget(o));
      }
    }
    return h;
  }

  // ---- commands ----

  private newOrder(c: NewOrderCommand, out: EngineEvent[]): void {
    const id = c.orderId;
    if (typeof id !== 'string' || id.length === 0) {
      return this.reject(out, 'new', '', '', 'INVALID_ORDER_ID');
    }
    const acct = c.accountId;
    if (typeof acct !== 'string' || acct.length === 0) {
      return this.reject(out, 'new', id, '', 'INVALID_ACCOUNT_ID');
    }
    const sideStr = c.side;
    if (sideStr !== 'buy' && sideStr !== 'sell') return this.reject(out, 'new', id, acct, 'INVALID_SIDE');
    const isBuy = sideStr === 'buy';
    const kind = kindCode(c.orderType);
    if (kind < 0) return this.reject(out, 'new', id, acct, 'INVALID_ORDER_TYPE');
    const tif = tifCode(c.tif);
    if (tif < 0) return this.reject(out, 'new', id, acct, 'INVALID_TIME_IN_FORCE');
    const stp = stpCode(c.stp);
    if (stp < 0) return this.reject(out, 'new', id, acct, 'INVALID_STP_MODE');
    const qty = c.qty;
    if (!isSafePositive(qty)) return this.reject(out, 'new', id, acct, 'INVALID_QUANTITY');
    const priced = kind === KIND_LIMIT || kind === KIND_STOP_LIMIT;
    const isStop = kind === KIND_STOP_LIMIT || kind === KIND_STOP_MARKET;
    let price = 0;
    if (priced) {
      if (!isSafePositive(c.price)) return this.reject(out, 'new', id, acct, 'INVALID_PRICE');
      price = c.price;
    }
    let stopPrice = 0;
    if (isStop) {
      if (!isSafePositive(c.stopPrice)) return this.reject(out, 'new', id, acct, 'INVALID_STOP_PRICE');
      stopPrice = c.stopPrice;
    }
    let protection = 0;
    let budget = -1;
    if (!priced) {
      if (c.protectionPrice !== undefined) {
        if (!isSafePositive(c.protectionPrice)) {
          return this.reject(out, 'new', id, acct, 'INVALID_PROTECTION_PRICE');
        }
        protection = c.protectionPrice;
      }
      if (c.quoteBudget !== undefined) {
        if (!isBuy || !isSafePositive(c.quoteBudget)) {
          return this.reject(out, 'new', id, acct, 'INVALID_QUOTE_BUDGET');
        }
        budget = c.quoteBudget;
      }
    }
    let display = 0;
    if (c.displayQty !== undefined) {
      const d = c.displayQty;
      if (!priced || tif !== TIF_GTC || !isSafePositive(d) || d > qty) {
        return this.reject(out, 'new', id, acct, 'INVALID_DISPLAY_QTY');
      }
      display = d;
    }
    const postOnly = c.postOnly === true;
    if (postOnly && (kind !== KIND_LIMIT || tif !== TIF_GTC)) {
      return this.reject(out, 'new', id, acct, 'INVALID_POST_ONLY');
    }
    if (qty < this.minQty) return this.reject(out, 'new', id, acct, 'BELOW_MIN_QTY');
    if (priced) {
      const reason = this.checkPricedRules(price, qty);
      if (reason !== null) return this.reject(out, 'new', id, acct, reason);
    }
    const hash = idHash(id);
    if (this.index.find(id, hash) !== NIL) {
      return this.reject(out, 'new', id, acct, 'DUPLICATE_ORDER_ID');
    }
    if (isStop) {
      const last = this.last;
      if (last !== 0 && (isBuy ? last >= stopPrice : last <= stopPrice)) {
        return this.reject(out, 'new', id, acct, 'STOP_WOULD_TRIGGER');
      }
    } else if (kind === KIND_LIMIT) {
      if (postOnly && this.crosses(isBuy, price)) {
        return this.reject(out, 'new', id, acct, 'POST_ONLY_WOULD_TAKE');
      }
      if (tif === TIF_FOK && !this.canFill(isBuy, price, qty, acct, stp)) {
        return this.reject(out, 'new', id, acct, 'FOK_CANNOT_FILL');
      }
    } else if (!this.hasLiquidity(isBuy, protection)) {
      return this.reject(out, 'new', id, acct, 'NO_LIQUIDITY');
    }

    const o = this.store.alloc(
      id,
      acct,
      isBuy,
      kind,
      tif,
      stp,
      postOnly,
      price,
      qty,
      display,
      stopPrice,
      protection,
      budget,
    );
    this.store.setIdHash(o, hash);
    out.push({
      type: 'accepted',
      seq: ++this.seqNo,
      orderId: id,
      accountId: acct,
      side: sideStr,
      orderType: KIND_NAMES[kind],
      price: priced ? price : protection,
      qty,
    });
    if (isStop) {
      this.store.setPending(o, 1);
      this.stops.add(o);
      this.index.insert(o, hash);
      return;
    }
    this.executeTaker(o, out);
    this.runTriggers(out);
  }

  private cancel(c: CancelCommand, out: EngineEvent[]): void {
    const id = c.orderId;
    if (typeof id !== 'string' || id.length === 0) {
      return this.reject(out, 'cancel', '', '', 'INVALID_ORDER_ID');
    }
    const o = this.index.find(id, idHash(id));
    if (o === NIL) return this.reject(out, 'cancel', id, '', 'UNKNOWN_ORDER');
    if (this.store.pending(o) === 1) {
      this.stops.remove(o);
      this.index.remove(o, this.store.idHash(o));
      this.store.setPending(o, 0);
      this.emitCancelled(out, o, 'USER');
      this.store.release(o);
      return;
    }
    this.cancelResting(o, 'USER', out);
  }

  private amend(c: AmendCommand, out: EngineEvent[]): void {
    const id = c.orderId;
    if (typeof id !== 'string' || id.length === 0) {
      return this.reject(out, 'amend', '', '', 'INVALID_ORDER_ID');
    }
    const o = this.index.find(id, idHash(id));
    if (o === NIL) return this.reject(out, 'amend', id, '', 'UNKNOWN_ORDER');
    const s = this.store;
    const acct = s.acct(o);
    if (s.pending(o) === 1) return this.reject(out, 'amend', id, acct, 'NOT_AMENDABLE');
    if (c.price === undefined && c.qty === undefined) {
      return this.reject(out, 'amend', id, acct, 'INVALID_AMEND');
    }
    if (c.price !== undefined && !isSafePositive(c.price)) {
      return this.reject(out, 'amend', id, acct, 'INVALID_PRICE');
    }
    if (c.qty !== undefined && !isSafePositive(c.qty)) {
      return this.reject(out, 'amend', id, acct, 'INVALID_QUANTITY');
    }
    const ofp = s.fPage(o);
    const ofb = OrderStore.fRow(o);
    const oldPrice = ofp[ofb + F_PRICE];
    const oldQty = ofp[ofb + F_QTY];
    const oldRemaining = ofp[ofb + F_REM];
    const newPrice = c.price === undefined ? oldPrice : c.price;
    const newQty = c.qty === undefined ? oldQty : c.qty;
    const filled = oldQty - oldRemaining;
    if (newQty <= filled) {
      this.cancelResting(o, 'AMEND_TO_FILLED', out);
      return;
    }
    if (newQty < this.minQty) return this.reject(out, 'amend', id, acct, 'BELOW_MIN_QTY');
    const priceChanged = newPrice !== oldPrice;
    const notional = newPrice * newQty;
    if (!Number.isSafeInteger(notional)) return this.reject(out, 'amend', id, acct, 'NOTIONAL_OVERFLOW');
    if (notional < this.minNotional) return this.reject(out, 'amend', id, acct, 'BELOW_MIN_NOTIONAL');
    if (priceChanged && !this.inBand(newPrice)) {
      return this.reject(out, 'amend', id, acct, 'PRICE_OUT_OF_BAND');
    }
    const isBuy = s.isBuy(o) === 1;
    if (priceChanged && s.postOnly(o) === 1 && this.crosses(isBuy, newPrice)) {
      return this.reject(out, 'amend', id, acct, 'POST_ONLY_WOULD_TAKE');
    }
    const newRemaining = newQty - filled;
    if (!priceChanged && newQty <= oldQty) {
      // Size down (or no change) in place: the order keeps its queue position.
      const level = this.levelTable[s.level(o)];
      const oldVisible = s.vis(o);
      const newVisible = oldVisible < newRemaining ? oldVisible : newRemaining;
      level.totalQty -= oldRemaining - newRemaining;
      level.visibleQty -= oldVisible - newVisible;
      s.setVis(o, newVisible);
      s.setRem(o, newRemaining);
      s.setQty(o, newQty);
      this.emitAmended(out, o, true);
      return;
    }
    // Loses priority: leave the book and come back as a new taker at the new price/size.
    (isBuy ? this.bids : this.asks).remove(o);
    this.index.remove(o, s.idHash(o));
    const fp = s.fPage(o);
    const fb = OrderStore.fRow(o);
    fp[fb + F_PRICE] = newPrice;
    fp[fb + F_QTY] = newQty;
    fp[fb + F_REM] = newRemaining;
    fp[fb + F_VIS] = newRemaining;
    out.push({
      type: 'amended',
      seq: ++this.seqNo,
      orderId: id,
      accountId: acct,
      price: newPrice,
      qty: newQty,
      remainingQty: newRemaining,
      keptPriority: false,
    });
    this.executeTaker(o, out);
    this.runTriggers(out);
  }

  // ---- matching ----

  // Matches an accepted order, then rests, expires or cancels what is left, and queues any stop
  // the resulting last price triggers.
  private executeTaker(o: number, out: EngineEvent[]): void {
    const lastBefore = this.last;
    const result = this.match(o, out);
    const s = this.store;
    if (s.rem(o) > 0) {
      if (result === MATCH_SELF_TRADE) {
        this.emitCancelled(out, o, 'SELF_TRADE');
      } else if (s.kind(o) === KIND_LIMIT && s.tif(o) === TIF_GTC) {
        this.rest(o, out);
      } else {
        this.emitExpired(out, o, result === MATCH_BUDGET ? 'BUDGET_EXHAUSTED' : 'IMMEDIATE_REMAINDER');
      }
    }
    if (s.level(o) === NIL) s.release(o);
    // Pending stops never trigger at the current last price (placement rejects that), so only a
    // new last price can trigger any.
    if (this.last !== lastBefore && this.stops.size > 0)
      this.stops.takeTriggered(this.last, this.triggerQueue);
  }

  private match(t: number, out: EngineEvent[]): number {
    const s = this.store;
    const isBuy = s.isBuy(t) === 1;
    const opp = isBuy ? this.asks : this.bids;
    const limit = s.kind(t) === KIND_LIMIT ? s.price(t) : s.prot(t);
    const stp = s.stp(t);
    const takerId = s.id(t);
    const takerAcct = s.acct(t);
    const takerSide: Side = isBuy ? 'buy' : 'sell';
    let tRem = s.rem(t);
    while (tRem > 0) {
      const level = opp.best();
      if (level === null) break;
      const px = level.price;
      if (limit !== 0 && (isBuy ? px > limit : px < limit)) break;
      const maker = level.head;
      if (stp !== STP_NONE && s.acct(maker) === takerAcct) {
        if (stp === STP_CANCEL_MAKER) {
          this.cancelResting(maker, 'SELF_TRADE', out);
          continue;
        }
        if (stp === STP_CANCEL_BOTH) this.cancelResting(maker, 'SELF_TRADE', out);
        return MATCH_SELF_TRADE;
      }
      const mVis = s.vis(maker);
      let q = tRem < mVis ? tRem : mVis;
      const budget = s.budget(t);
      if (budget >= 0) {
        const afford = floorDiv(budget, px);
        if (afford === 0) return MATCH_BUDGET;
        if (afford < q) q = afford;
        s.setBudget(t, budget - q * px);
      }
      const mRem = s.rem(maker) - q;
      s.setRem(maker, mRem);
      s.setVis(maker, mVis - q);
      level.visibleQty -= q;
      level.totalQty -= q;
      tRem -= q;
      s.setRem(t, tRem);
      this.last = px;
      out.push({
        type: 'trade',
        seq: ++this.seqNo,
        price: px,
        qty: q,
        makerOrderId: s.id(maker),
        takerOrderId: takerId,
        makerAccountId: s.acct(maker),
        takerAccountId: takerAcct,
        takerSide,
        makerRemainingQty: mRem,
        takerRemainingQty: tRem,
      });
      if (mVis === q) {
        if (mRem === 0) {
          opp.remove(maker);
          this.index.remove(maker, s.idHash(maker));
          s.release(maker);
        } else {
          // Iceberg refill: a new slice goes to the back of its level.
          level.remove(s, maker);
          const d = s.disp(maker);
          s.setVis(maker, d < mRem ? d : mRem);
          level.append(s, maker);
        }
      }
    }
    return MATCH_DONE;
  }

  // Executes triggered stops one by one; each may trigger more, appended behind (FIFO).
  private runTriggers(out: EngineEvent[]): void {
    const queue = this.triggerQueue;
    // The common case: nothing triggered (and `length = 0` on an empty array is not free).
    if (queue.length === 0) return;
    const s = this.store;
    for (let i = 0; i < queue.length; i++) {
      const o = queue[i];
      this.index.remove(o, s.idHash(o));
      s.setPending(o, 0);
      out.push({
        type: 'triggered',
        seq: ++this.seqNo,
        orderId: s.id(o),
        accountId: s.acct(o),
        stopPrice: s.stopPx(o),
        lastPrice: this.last,
      });
      // From here on it is a plain market or limit order.
      if (s.kind(o) === KIND_STOP_MARKET) {
        s.setKind(o, KIND_MARKET);
        if (!this.hasLiquidity(s.isBuy(o) === 1, s.prot(o))) {
          this.emitExpired(out, o, 'NO_LIQUIDITY');
          s.release(o);
          continue;
        }
      } else {
        s.setKind(o, KIND_LIMIT);
        if (
          s.tif(o) === TIF_FOK &&
          !this.canFill(s.isBuy(o) === 1, s.price(o), s.rem(o), s.acct(o), s.stp(o))
        ) {
          this.emitExpired(out, o, 'FOK_CANNOT_FILL');
          s.release(o);
          continue;
        }
      }
      this.executeTaker(o, out);
    }
    queue.length = 0;
  }

  private rest(o: number, out: EngineEvent[]): void {
    const s = this.store;
    const fp = s.fPage(o);
    const fb = OrderStore.fRow(o);
    const r = fp[fb + F_REM];
    const d = fp[fb + F_DISP];
    const v = d > 0 && d < r ? d : r;
    fp[fb + F_VIS] = v;
    const isBuy = s.iPage(o)[OrderStore.iRow(o) + I_IS_BUY] === 1;
    (isBuy ? this.bids : this.asks).append(o);
    const id = s.id(o);
    this.index.insert(o, s.idHash(o));
    out.push({
      type: 'rested',
      seq: ++this.seqNo,
      orderId: id,
      accountId: s.acct(o),
      side: isBuy ? 'buy' : 'sell',
      price: fp[fb + F_PRICE],
      remainingQty: r,
      visibleQty: v,
    });
  }

  private cancelResting(o: number, reason: CancelReason, out: EngineEvent[]): void {
    const s = this.store;
    (s.isBuy(o) === 1 ? this.bids : this.asks).remove(o);
    this.index.remove(o, s.idHash(o));
    this.emitCancelled(out, o, reason);
    s.release(o);
  }

  // ---- checks ----

  private checkPricedRules(price: number, qty: number): RejectReason | null {
    const notional = price * qty;
    if (!Number.isSafeInteger(notional)) return 'NOTIONAL_OVERFLOW';
    if (notional < this.minNotional) return 'BELOW_MIN_NOTIONAL';
    if (!this.inBand(price)) return 'PRICE_OUT_OF_BAND';
    return null;
  }

  private inBand(price: number): boolean {
    if (this.bandMin >= 0 && price < this.bandMin) return false;
    if (this.bandMax >= 0 && price > this.bandMax) return false;
    if (this.bandDev >= 0 && this.last !== 0) {
      const d = price > this.last ? price - this.last : this.last - price;
      if (d > this.bandDev) return false;
    }
    return true;
  }

  // Would a limit at `price` take liquidity right now?
  private crosses(isBuy: boolean, price: number): boolean {
    const best = (isBuy ? this.asks : this.bids).best();
    return best !== null && (isBuy ? best.price <= price : best.price >= price);
  }

  private hasLiquidity(isBuy: boolean, protection: number): boolean {
    const best = (isBuy ? this.asks : this.bids).best();
    if (best === null) return false;
    return protection === 0 || (isBuy ? best.price <= protection : best.price >= protection);
  }

  // FOK pre-check: does the walk the taker would really make (price-time order, an iceberg's
  // refilled slice to the back of its level) fill `qty` within `price`? Under cancel-maker own
  // orders are cancelled on the way and add nothing. Under cancel-taker/cancel-both the walk
  // ends at the first own order it meets: in that order's level only the visible slices queued
  // ahead of it count (a refill goes behind it), and no level beyond. See ADR 0011.
  private canFill(isBuy: boolean, price: number, qty: number, acct: string, stp: number): boolean {
    const levels = (isBuy ? this.asks : this.bids).levels;
    const s = this.store;
    let need = qty;
    for (let i = levels.length - 1; i >= 0; i--) {
      const level = levels[i];
      if (isBuy ? level.price > price : level.price < price) break;
      if (stp === STP_NONE) {
        need -= level.totalQty;
        if (need <= 0) return true;
        continue;
      }
      if (stp === STP_CANCEL_MAKER) {
        for (let o = level.head; o !== NIL; o = s.next(o)) {
          if (s.acct(o) === acct) continue;
          need -= s.rem(o);
          if (need <= 0) return true;
        }
        continue;
      }
      let ahead = 0;
      for (let o = level.head; o !== NIL; o = s.next(o)) {
        if (s.acct(o) === acct) return false;
        ahead += s.vis(o);
        if (ahead >= need) return true;
      }
      // No own order at this level: all of it, hidden quantity included, is taken in turn.
      need -= level.totalQty;
      if (need <= 0) return true;
    }
    return false;
  }

  // ---- events ----

  private reject(
    out: EngineEvent[],
    command: 'new' | 'cancel' | 'amend' | 'unknown',
    orderId: string,
    accountId: string,
    reason: RejectReason,
  ): void {
    out.push({ type: 'rejected', seq: ++this.seqNo, command, orderId, accountId, reason });
  }

  private emitCancelled(out: EngineEvent[], o: number, reason: CancelReason): void {
    const s = this.store;
    out.push({
      type: 'cancelled',
      seq: ++this.seqNo,
      orderId: s.id(o),
      accountId: s.acct(o),
      remainingQty: s.rem(o),
      reason,
    });
  }

  private emitExpired(out: EngineEvent[], o: number, reason: ExpireReason): void {
    const s = this.store;
    out.push({
      type: 'expired',
      seq: ++this.seqNo,
      orderId: s.id(o),
      accountId: s.acct(o),
      remainingQty: s.rem(o),
      reason,
    });
  }

  private emitAmended(out: EngineEvent[], o: number, keptPriority: boolean): void {
    const s = this.store;
    out.push({
      type: 'amended',
      seq: ++this.seqNo,
      orderId: s.id(o),
      accountId: s.acct(o),
      price: s.price(o),
      qty: s.qty(o),
      remainingQty: s.rem(o),
      keptPriority,
    });
  }

  // ---- views and snapshots ----

  private depthSide(side: BookSide, n: number): DepthLevel[] {
    const levels = side.levels;
    const res: DepthLevel[] = [];
    for (let i = levels.length - 1; i >= 0 && res.length < n; i--) {
      const l = levels[i];
      res.push({ price: l.price, qty: l.visibleQty, orders: l.count });
    }
    return res;
  }

  private snapshotSide(side: BookSide): SnapshotOrder[] {
    const res: SnapshotOrder[] = [];
    const levels = side.levels;
    const s = this.store;
    for (let i = levels.length - 1; i >= 0; i--) {
      for (let o = levels[i].head; o !== NIL; o = s.next(o)) {
        res.push([
          s.id(o),
          s.acct(o),
          s.price(o),
          s.qty(o),
          s.rem(o),
          s.vis(o),
          s.disp(o),
          s.stp(o),
          s.postOnly(o),
        ]);
      }
    }
    return res;
  }

  private restoreSide(orders: SnapshotOrder[], isBuy: boolean): void {
    const side = isBuy ? this.bids : this.asks;
    const st = this.store;
    for (const s of orders) {
      const o = st.alloc(
        s[0],
        s[1],
        isBuy,
        KIND_LIMIT,
        TIF_GTC,
        s[7],
        s[8] === 1,
        s[2],
        s[3],
        s[6],
        0,
        0,
        -1,
      );
      st.setRem(o, s[4]);
      st.setVis(o, s[5]);
      const hash = idHash(s[0]);
      st.setIdHash(o, hash);
      side.append(o);
      this.index.insert(o, hash);
    }
  }
}
