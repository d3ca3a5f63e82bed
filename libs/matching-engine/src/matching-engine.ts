import { BookSide } from './book-side';
import {
  type AmendCommand,
  type CancelCommand,
  CancelReason,
  type DepthLevel,
  type DepthView,
  type EngineCommand,
  type EngineEvent,
  type EngineSnapshot,
  ExpireReason,
  type NewOrderCommand,
  type OrderType,
  type OrderView,
  RejectReason,
  type Side,
  type SnapshotOrder,
  type SnapshotStop,
  type SymbolConfig,
} from './engine.types';
import { floorDiv, isSafePositive } from './int-math';
import {
  KIND_LIMIT,
  KIND_MARKET,
  KIND_STOP_LIMIT,
  KIND_STOP_MARKET,
  Order,
  STP_CANCEL_BOTH,
  STP_CANCEL_MAKER,
  STP_CANCEL_TAKER,
  STP_NONE,
  TIF_FOK,
  TIF_GTC,
  TIF_IOC,
} from './order';
import { type PriceLevel } from './price-level';
import { FNV_OFFSET, fnvNumber, fnvString } from './state-hash';
import { StopBook } from './stop-book';

const KIND_NAMES: readonly OrderType[] = ['limit', 'market', 'stop-limit', 'stop-market'];

// Free-list bound: enough to absorb churn without pinning memory after a burst.
const ORDER_POOL_MAX = 65536;

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
  private readonly bids = new BookSide(true);
  private readonly asks = new BookSide(false);
  private readonly stops = new StopBook();
  private readonly index = new Map<string, Order>();
  // Stops triggered and waiting their turn in the current cascade (FIFO).
  private readonly triggerQueue: Order[] = [];
  // Finished orders are recycled so steady cancel/fill churn allocates (and promotes) no Orders.
  private readonly orderPool: Order[] = [];
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
    for (const s of snapshot.stops) {
      const o = new Order(
        s[0],
        s[1],
        s[2] === 0,
        s[3] === 0 ? KIND_STOP_MARKET : KIND_STOP_LIMIT,
        s[5],
        s[6],
      );
      o.stopPrice = s[4];
      o.tif = s[7];
      o.display = s[8];
      o.stp = s[9];
      o.protection = s[10];
      o.budget = s[11] === 0 ? -1 : s[11];
      o.pendingStop = true;
      // Already in trigger order: append as is.
      (o.isBuy ? engine.stops.buys : engine.stops.sells).push(o);
      engine.index.set(o.id, o);
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
    const o = this.index.get(orderId);
    if (o === undefined) return null;
    return {
      orderId: o.id,
      accountId: o.accountId,
      side: sideName(o.isBuy),
      orderType: KIND_NAMES[o.kind],
      price: o.price,
      qty: o.qty,
      remainingQty: o.remaining,
      visibleQty: o.pendingStop ? 0 : o.visible,
      pending: o.pendingStop,
    };
  }

  /**
   * Applies one command and appends its events (and those of any stop cascade it causes) to
   * `out`. Never throws on bad input: malformed commands produce a Rejected event.
   */
  process(cmd: EngineCommand, out: EngineEvent[]): void {
    if (cmd === null || typeof cmd !== 'object') {
      this.reject(out, 'unknown', '', '', RejectReason.INVALID_COMMAND);
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
        this.reject(out, 'unknown', typeof id === 'string' ? id : '', '', RejectReason.INVALID_COMMAND);
      }
    }
    const off = cmd.inputOffset;
    if (off !== undefined && Number.isSafeInteger(off)) this.offset = off;
  }

  /** Full state as a versioned JSON-serialisable object. */
  snapshot(): EngineSnapshot {
    const stops: SnapshotStop[] = [];
    const addStop = (o: Order): void => {
      stops.push([
        o.id,
        o.accountId,
        o.isBuy ? 0 : 1,
        o.kind === KIND_STOP_MARKET ? 0 : 1,
        o.stopPrice,
        o.price,
        o.qty,
        o.tif,
        o.display,
        o.stp,
        o.protection,
        o.budget < 0 ? 0 : o.budget,
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
    for (const side of [this.bids, this.asks]) {
      const levels = side.levels;
      h = fnvNumber(h, side.orderCount);
      for (let i = levels.length - 1; i >= 0; i--) {
        for (let o = levels[i].head; o !== null; o = o.next) {
          h = fnvString(fnvString(h, o.id), o.accountId);
          h = fnvNumber(fnvNumber(fnvNumber(h, o.price), o.qty), o.remaining);
          h = fnvNumber(fnvNumber(fnvNumber(h, o.visible), o.display), o.stp);
          h = fnvNumber(h, o.postOnly ? 1 : 0);
        }
      }
    }
    for (const list of [this.stops.buys, this.stops.sells]) {
      h = fnvNumber(h, list.length);
      for (const o of list) {
        h = fnvString(fnvString(h, o.id), o.accountId);
        h = fnvNumber(fnvNumber(fnvNumber(h, o.kind), o.stopPrice), o.price);
        h = fnvNumber(fnvNumber(fnvNumber(h, o.qty), o.tif), o.display);
        h = fnvNumber(fnvNumber(fnvNumber(h, o.stp), o.protection), o.budget);
      }
    }
    return h;
  }

  // ---- commands ----

  private newOrder(c: NewOrderCommand, out: EngineEvent[]): void {
    const id = c.orderId;
    if (typeof id !== 'string' || id.length === 0) {
      return this.reject(out, 'new', '', '', RejectReason.INVALID_ORDER_ID);
    }
    const acct = c.accountId;
    if (typeof acct !== 'string' || acct.length === 0) {
      return this.reject(out, 'new', id, '', RejectReason.INVALID_ACCOUNT_ID);
    }
    const sideStr = c.side;
    if (sideStr !== 'buy' && sideStr !== 'sell')
      return this.reject(out, 'new', id, acct, RejectReason.INVALID_SIDE);
    const isBuy = sideStr === 'buy';
    const kind = kindCode(c.orderType);
    if (kind < 0) return this.reject(out, 'new', id, acct, RejectReason.INVALID_ORDER_TYPE);
    const tif = tifCode(c.tif);
    if (tif < 0) return this.reject(out, 'new', id, acct, RejectReason.INVALID_TIME_IN_FORCE);
    const stp = stpCode(c.stp);
    if (stp < 0) return this.reject(out, 'new', id, acct, RejectReason.INVALID_STP_MODE);
    const qty = c.qty;
    if (!isSafePositive(qty)) return this.reject(out, 'new', id, acct, RejectReason.INVALID_QUANTITY);
    const priced = kind === KIND_LIMIT || kind === KIND_STOP_LIMIT;
    const isStop = kind === KIND_STOP_LIMIT || kind === KIND_STOP_MARKET;
    let price = 0;
    if (priced) {
      if (!isSafePositive(c.price)) return this.reject(out, 'new', id, acct, RejectReason.INVALID_PRICE);
      price = c.price;
    }
    let stopPrice = 0;
    if (isStop) {
      if (!isSafePositive(c.stopPrice))
        return this.reject(out, 'new', id, acct, RejectReason.INVALID_STOP_PRICE);
      stopPrice = c.stopPrice;
    }
    let protection = 0;
    let budget = -1;
    if (!priced) {
      if (c.protectionPrice !== undefined) {
        if (!isSafePositive(c.protectionPrice)) {
          return this.reject(out, 'new', id, acct, RejectReason.INVALID_PROTECTION_PRICE);
        }
        protection = c.protectionPrice;
      }
      if (c.quoteBudget !== undefined) {
        if (!isBuy || !isSafePositive(c.quoteBudget)) {
          return this.reject(out, 'new', id, acct, RejectReason.INVALID_QUOTE_BUDGET);
        }
        budget = c.quoteBudget;
      }
    }
    let display = 0;
    if (c.displayQty !== undefined) {
      const d = c.displayQty;
      if (!priced || tif !== TIF_GTC || !isSafePositive(d) || d > qty) {
        return this.reject(out, 'new', id, acct, RejectReason.INVALID_DISPLAY_QTY);
      }
      display = d;
    }
    const postOnly = c.postOnly === true;
    if (postOnly && (kind !== KIND_LIMIT || tif !== TIF_GTC)) {
      return this.reject(out, 'new', id, acct, RejectReason.INVALID_POST_ONLY);
    }
    if (qty < this.minQty) return this.reject(out, 'new', id, acct, RejectReason.BELOW_MIN_QTY);
    if (priced) {
      const reason = this.checkPricedRules(price, qty);
      if (reason !== null) return this.reject(out, 'new', id, acct, reason);
    }
    if (this.index.has(id)) return this.reject(out, 'new', id, acct, RejectReason.DUPLICATE_ORDER_ID);
    if (isStop) {
      const last = this.last;
      if (last !== 0 && (isBuy ? last >= stopPrice : last <= stopPrice)) {
        return this.reject(out, 'new', id, acct, RejectReason.STOP_WOULD_TRIGGER);
      }
    } else if (kind === KIND_LIMIT) {
      if (postOnly && this.crosses(isBuy, price)) {
        return this.reject(out, 'new', id, acct, RejectReason.POST_ONLY_WOULD_TAKE);
      }
      if (tif === TIF_FOK && !this.canFill(isBuy, price, qty, acct, stp)) {
        return this.reject(out, 'new', id, acct, RejectReason.FOK_CANNOT_FILL);
      }
    } else if (!this.hasLiquidity(isBuy, protection)) {
      return this.reject(out, 'new', id, acct, RejectReason.NO_LIQUIDITY);
    }

    const pool = this.orderPool;
    const o =
      pool.length > 0
        ? (pool.pop() as Order).init(id, acct, isBuy, kind, price, qty)
        : new Order(id, acct, isBuy, kind, price, qty);
    o.tif = tif;
    o.stp = stp;
    o.postOnly = postOnly;
    o.display = display;
    o.stopPrice = stopPrice;
    o.protection = protection;
    o.budget = budget;
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
      o.pendingStop = true;
      this.stops.add(o);
      this.index.set(id, o);
      return;
    }
    this.executeTaker(o, out);
    this.runTriggers(out);
  }

  private cancel(c: CancelCommand, out: EngineEvent[]): void {
    const id = c.orderId;
    if (typeof id !== 'string' || id.length === 0) {
      return this.reject(out, 'cancel', '', '', RejectReason.INVALID_ORDER_ID);
    }
    const o = this.index.get(id);
    if (o === undefined) return this.reject(out, 'cancel', id, '', RejectReason.UNKNOWN_ORDER);
    if (o.pendingStop) {
      this.stops.remove(o);
      this.index.delete(id);
      o.pendingStop = false;
      this.emitCancelled(out, o, CancelReason.USER);
      this.release(o);
      return;
    }
    this.cancelResting(o, CancelReason.USER, out);
  }

  private amend(c: AmendCommand, out: EngineEvent[]): void {
    const id = c.orderId;
    if (typeof id !== 'string' || id.length === 0) {
      return this.reject(out, 'amend', '', '', RejectReason.INVALID_ORDER_ID);
    }
    const o = this.index.get(id);
    if (o === undefined) return this.reject(out, 'amend', id, '', RejectReason.UNKNOWN_ORDER);
    const acct = o.accountId;
    if (o.pendingStop) return this.reject(out, 'amend', id, acct, RejectReason.NOT_AMENDABLE);
    if (c.price === undefined && c.qty === undefined) {
      return this.reject(out, 'amend', id, acct, RejectReason.INVALID_AMEND);
    }
    if (c.price !== undefined && !isSafePositive(c.price)) {
      return this.reject(out, 'amend', id, acct, RejectReason.INVALID_PRICE);
    }
    if (c.qty !== undefined && !isSafePositive(c.qty)) {
      return this.reject(out, 'amend', id, acct, RejectReason.INVALID_QUANTITY);
    }
    const newPrice = c.price === undefined ? o.price : c.price;
    const newQty = c.qty === undefined ? o.qty : c.qty;
    const filled = o.qty - o.remaining;
    if (newQty <= filled) {
      this.cancelResting(o, CancelReason.AMEND_TO_FILLED, out);
      return;
    }
    if (newQty < this.minQty) return this.reject(out, 'amend', id, acct, RejectReason.BELOW_MIN_QTY);
    const priceChanged = newPrice !== o.price;
    const notional = newPrice * newQty;
    if (!Number.isSafeInteger(notional))
      return this.reject(out, 'amend', id, acct, RejectReason.NOTIONAL_OVERFLOW);
    if (notional < this.minNotional)
      return this.reject(out, 'amend', id, acct, RejectReason.BELOW_MIN_NOTIONAL);
    if (priceChanged && !this.inBand(newPrice)) {
      return this.reject(out, 'amend', id, acct, RejectReason.PRICE_OUT_OF_BAND);
    }
    if (priceChanged && o.postOnly && this.crosses(o.isBuy, newPrice)) {
      return this.reject(out, 'amend', id, acct, RejectReason.POST_ONLY_WOULD_TAKE);
    }
    const newRemaining = newQty - filled;
    if (!priceChanged && newQty <= o.qty) {
      // Size down (or no change) in place: the order keeps its queue position.
      const level = o.level as PriceLevel;
      const newVisible = o.visible < newRemaining ? o.visible : newRemaining;
      level.totalQty -= o.remaining - newRemaining;
      level.visibleQty -= o.visible - newVisible;
      o.visible = newVisible;
      o.remaining = newRemaining;
      o.qty = newQty;
      this.emitAmended(out, o, true);
      return;
    }
    // Loses priority: leave the book and come back as a new taker at the new price/size.
    (o.isBuy ? this.bids : this.asks).remove(o);
    this.index.delete(id);
    o.price = newPrice;
    o.qty = newQty;
    o.remaining = newRemaining;
    o.visible = newRemaining;
    this.emitAmended(out, o, false);
    this.executeTaker(o, out);
    this.runTriggers(out);
  }

  // ---- matching ----

  // Matches an accepted order, then rests, expires or cancels what is left, and queues any stop
  // the resulting last price triggers.
  private executeTaker(o: Order, out: EngineEvent[]): void {
    const lastBefore = this.last;
    const result = this.match(o, out);
    if (o.remaining > 0) {
      if (result === MATCH_SELF_TRADE) {
        this.emitCancelled(out, o, CancelReason.SELF_TRADE);
      } else if (o.kind === KIND_LIMIT && o.tif === TIF_GTC) {
        this.rest(o, out);
      } else {
        this.emitExpired(
          out,
          o,
          result === MATCH_BUDGET ? ExpireReason.BUDGET_EXHAUSTED : ExpireReason.IMMEDIATE_REMAINDER,
        );
      }
    }
    if (o.level === null) this.release(o);
    // Pending stops never trigger at the current last price (placement rejects that), so only a
    // new last price can trigger any.
    if (this.last !== lastBefore && this.stops.size > 0)
      this.stops.takeTriggered(this.last, this.triggerQueue);
  }

  private match(t: Order, out: EngineEvent[]): number {
    const isBuy = t.isBuy;
    const opp = isBuy ? this.asks : this.bids;
    const limit = t.kind === KIND_LIMIT ? t.price : t.protection;
    const stp = t.stp;
    const takerSide: Side = isBuy ? 'buy' : 'sell';
    while (t.remaining > 0) {
      const level = opp.best();
      if (level === null) return MATCH_DONE;
      const px = level.price;
      if (limit !== 0 && (isBuy ? px > limit : px < limit)) return MATCH_DONE;
      const maker = level.head as Order;
      if (stp !== STP_NONE && maker.accountId === t.accountId) {
        if (stp === STP_CANCEL_MAKER) {
          this.cancelResting(maker, CancelReason.SELF_TRADE, out);
          continue;
        }
        if (stp === STP_CANCEL_BOTH) this.cancelResting(maker, CancelReason.SELF_TRADE, out);
        return MATCH_SELF_TRADE;
      }
      let q = t.remaining < maker.visible ? t.remaining : maker.visible;
      if (t.budget >= 0) {
        const afford = floorDiv(t.budget, px);
        if (afford === 0) return MATCH_BUDGET;
        if (afford < q) q = afford;
        t.budget -= q * px;
      }
      maker.remaining -= q;
      maker.visible -= q;
      level.visibleQty -= q;
      level.totalQty -= q;
      t.remaining -= q;
      this.last = px;
      out.push({
        type: 'trade',
        seq: ++this.seqNo,
        price: px,
        qty: q,
        makerOrderId: maker.id,
        takerOrderId: t.id,
        makerAccountId: maker.accountId,
        takerAccountId: t.accountId,
        takerSide,
        makerRemainingQty: maker.remaining,
        takerRemainingQty: t.remaining,
      });
      if (maker.visible === 0) {
        if (maker.remaining === 0) {
          opp.remove(maker);
          this.index.delete(maker.id);
          this.release(maker);
        } else {
          // Iceberg refill: a new slice goes to the back of its level.
          level.remove(maker);
          maker.visible = maker.display < maker.remaining ? maker.display : maker.remaining;
          level.append(maker);
        }
      }
    }
    return MATCH_DONE;
  }

  // Executes triggered stops one by one; each may trigger more, appended behind (FIFO).
  private runTriggers(out: EngineEvent[]): void {
    const queue = this.triggerQueue;
    for (let i = 0; i < queue.length; i++) {
      const o = queue[i];
      this.index.delete(o.id);
      o.pendingStop = false;
      out.push({
        type: 'triggered',
        seq: ++this.seqNo,
        orderId: o.id,
        accountId: o.accountId,
        stopPrice: o.stopPrice,
        lastPrice: this.last,
      });
      // From here on it is a plain market or limit order.
      if (o.kind === KIND_STOP_MARKET) {
        o.kind = KIND_MARKET;
        if (!this.hasLiquidity(o.isBuy, o.protection)) {
          this.emitExpired(out, o, ExpireReason.NO_LIQUIDITY);
          this.release(o);
          continue;
        }
      } else {
        o.kind = KIND_LIMIT;
        if (o.tif === TIF_FOK && !this.canFill(o.isBuy, o.price, o.remaining, o.accountId, o.stp)) {
          this.emitExpired(out, o, ExpireReason.FOK_CANNOT_FILL);
          this.release(o);
          continue;
        }
      }
      this.executeTaker(o, out);
    }
    queue.length = 0;
  }

  private rest(o: Order, out: EngineEvent[]): void {
    o.visible = o.display > 0 && o.display < o.remaining ? o.display : o.remaining;
    (o.isBuy ? this.bids : this.asks).append(o);
    this.index.set(o.id, o);
    out.push({
      type: 'rested',
      seq: ++this.seqNo,
      orderId: o.id,
      accountId: o.accountId,
      side: o.isBuy ? 'buy' : 'sell',
      price: o.price,
      remainingQty: o.remaining,
      visibleQty: o.visible,
    });
  }

  private cancelResting(o: Order, reason: CancelReason, out: EngineEvent[]): void {
    (o.isBuy ? this.bids : this.asks).remove(o);
    this.index.delete(o.id);
    this.emitCancelled(out, o, reason);
    this.release(o);
  }

  // Only for orders no structure references any more (not resting, not pending, not queued).
  private release(o: Order): void {
    if (this.orderPool.length < ORDER_POOL_MAX) this.orderPool.push(o);
  }

  // ---- checks ----

  private checkPricedRules(price: number, qty: number): RejectReason | null {
    const notional = price * qty;
    if (!Number.isSafeInteger(notional)) return RejectReason.NOTIONAL_OVERFLOW;
    if (notional < this.minNotional) return RejectReason.BELOW_MIN_NOTIONAL;
    if (!this.inBand(price)) return RejectReason.PRICE_OUT_OF_BAND;
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

  // FOK pre-check. Own orders are skipped under cancel-maker (they will be cancelled) and make
  // the order unfillable under cancel-taker/cancel-both (it would stop on them).
  private canFill(isBuy: boolean, price: number, qty: number, acct: string, stp: number): boolean {
    const levels = (isBuy ? this.asks : this.bids).levels;
    let need = qty;
    const scanAll = stp === STP_CANCEL_TAKER || stp === STP_CANCEL_BOTH;
    for (let i = levels.length - 1; i >= 0; i--) {
      const level = levels[i];
      if (isBuy ? level.price > price : level.price < price) break;
      if (stp === STP_NONE) {
        need -= level.totalQty;
        if (need <= 0) return true;
        continue;
      }
      for (let o = level.head; o !== null; o = o.next) {
        if (o.accountId === acct) {
          if (scanAll) return false;
          continue;
        }
        need -= o.remaining;
        if (need <= 0 && !scanAll) return true;
      }
    }
    return need <= 0;
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

  private emitCancelled(out: EngineEvent[], o: Order, reason: CancelReason): void {
    out.push({
      type: 'cancelled',
      seq: ++this.seqNo,
      orderId: o.id,
      accountId: o.accountId,
      remainingQty: o.remaining,
      reason,
    });
  }

  private emitExpired(out: EngineEvent[], o: Order, reason: ExpireReason): void {
    out.push({
      type: 'expired',
      seq: ++this.seqNo,
      orderId: o.id,
      accountId: o.accountId,
      remainingQty: o.remaining,
      reason,
    });
  }

  private emitAmended(out: EngineEvent[], o: Order, keptPriority: boolean): void {
    out.push({
      type: 'amended',
      seq: ++this.seqNo,
      orderId: o.id,
      accountId: o.accountId,
      price: o.price,
      qty: o.qty,
      remainingQty: o.remaining,
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
    for (let i = levels.length - 1; i >= 0; i--) {
      for (let o = levels[i].head; o !== null; o = o.next) {
        res.push([
          o.id,
          o.accountId,
          o.price,
          o.qty,
          o.remaining,
          o.visible,
          o.display,
          o.stp,
          o.postOnly ? 1 : 0,
        ]);
      }
    }
    return res;
  }

  private restoreSide(orders: SnapshotOrder[], isBuy: boolean): void {
    const side = isBuy ? this.bids : this.asks;
    for (const s of orders) {
      const o = new Order(s[0], s[1], isBuy, KIND_LIMIT, s[2], s[3]);
      o.remaining = s[4];
      o.visible = s[5];
      o.display = s[6];
      o.stp = s[7];
      o.postOnly = s[8] === 1;
      side.append(o);
      this.index.set(o.id, o);
    }
  }
}
