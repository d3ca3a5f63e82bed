// Deliberately naive second implementation of the engine rules, used only by the property tests.
// Written from the documented rules, not from the engine: one flat array of resting orders,
// a global "time" counter for priority, a linear scan for every fill. Slow and obvious on purpose.
import { isPricedOrderType, isStopOrderType } from '@trading/contracts';
import {
  type CancelReason,
  type DepthLevel,
  type DepthView,
  type EngineEvent,
  type ExpireReason,
  type RejectReason,
  type Side,
  type SymbolConfig,
} from './engine.types';

interface RefOrder {
  id: string;
  acct: string;
  side: Side;
  type: string;
  price: number;
  qty: number;
  remaining: number;
  visible: number;
  display: number;
  stp: string;
  postOnly: boolean;
  tif: string;
  stopPrice: number;
  protection: number;
  budget: number | null;
  time: number;
}

type AnyCommand = Record<string, unknown>;

function isPosInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

export class ReferenceModel {
  private resting: RefOrder[] = [];
  private stops: RefOrder[] = [];
  private seq = 0;
  private last = 0;
  private clock = 0;
  private out: EngineEvent[] = [];

  constructor(private readonly config: SymbolConfig) {}

  process(cmd: unknown, out: EngineEvent[]): void {
    this.out = out;
    const c = cmd as AnyCommand;
    if (c.type === 'new') this.newOrder(c);
    else if (c.type === 'cancel') this.cancel(c);
    else if (c.type === 'amend') this.amend(c);
    else this.emitReject('unknown', typeof c.orderId === 'string' ? c.orderId : '', '', 'INVALID_COMMAND');
  }

  depth(n: number): DepthView {
    return { bids: this.depthOf('buy', n), asks: this.depthOf('sell', n) };
  }

  private depthOf(side: Side, n: number): DepthLevel[] {
    const levels: DepthLevel[] = [];
    for (const o of this.resting.filter((r) => r.side === side)) {
      let l = levels.find((x) => x.price === o.price);
      if (!l) {
        l = { price: o.price, qty: 0, orders: 0 };
        levels.push(l);
      }
      l.qty += o.visible;
      l.orders += 1;
    }
    levels.sort((a, b) => (side === 'buy' ? b.price - a.price : a.price - b.price));
    return levels.slice(0, n);
  }

  private newOrder(c: AnyCommand): void {
    if (typeof c.orderId !== 'string' || c.orderId === '')
      return this.emitReject('new', '', '', 'INVALID_ORDER_ID');
    const id = c.orderId;
    if (typeof c.accountId !== 'string' || c.accountId === '') {
      return this.emitReject('new', id, '', 'INVALID_ACCOUNT_ID');
    }
    const acct = c.accountId;
    const bad = (r: RejectReason): void => this.emitReject('new', id, acct, r);
    if (c.side !== 'buy' && c.side !== 'sell') return bad('INVALID_SIDE');
    const side = c.side;
    const type = c.orderType;
    if (type !== 'limit' && type !== 'market' && type !== 'stop-limit' && type !== 'stop-market') {
      return bad('INVALID_ORDER_TYPE');
    }
    const tif = c.tif === undefined ? 'GTC' : c.tif;
    if (tif !== 'GTC' && tif !== 'IOC' && tif !== 'FOK') return bad('INVALID_TIME_IN_FORCE');
    const stp = c.stp === undefined ? 'none' : c.stp;
    if (!['none', 'cancel-taker', 'cancel-maker', 'cancel-both'].includes(stp as string)) {
      return bad('INVALID_STP_MODE');
    }
    if (!isPosInt(c.qty)) return bad('INVALID_QUANTITY');
    const qty = c.qty;
    const hasLimitPrice = isPricedOrderType(type);
    const isStop = isStopOrderType(type);
    if (hasLimitPrice && !isPosInt(c.price)) return bad('INVALID_PRICE');
    if (isStop && !isPosInt(c.stopPrice)) return bad('INVALID_STOP_PRICE');
    if (!hasLimitPrice && c.protectionPrice !== undefined && !isPosInt(c.protectionPrice)) {
      return bad('INVALID_PROTECTION_PRICE');
    }
    if (!hasLimitPrice && c.quoteBudget !== undefined && (side !== 'buy' || !isPosInt(c.quoteBudget))) {
      return bad('INVALID_QUOTE_BUDGET');
    }
    if (c.displayQty !== undefined) {
      if (!hasLimitPrice || tif !== 'GTC' || !isPosInt(c.displayQty) || c.displayQty > qty) {
        return bad('INVALID_DISPLAY_QTY');
      }
    }
    const postOnly = c.postOnly === true;
    if (postOnly && (type !== 'limit' || tif !== 'GTC')) return bad('INVALID_POST_ONLY');
    if (qty < this.config.minQty) return bad('BELOW_MIN_QTY');
    const price = hasLimitPrice ? (c.price as number) : 0;
    if (hasLimitPrice) {
      if (!Number.isSafeInteger(price * qty)) return bad('NOTIONAL_OVERFLOW');
      if (price * qty < this.config.minNotional) return bad('BELOW_MIN_NOTIONAL');
      if (!this.priceAllowed(price)) return bad('PRICE_OUT_OF_BAND');
    }
    if (this.findLive(id)) return bad('DUPLICATE_ORDER_ID');
    const stopPrice = isStop ? (c.stopPrice as number) : 0;
    const protection = !hasLimitPrice && c.protectionPrice !== undefined ? (c.protectionPrice as number) : 0;
    if (isStop && this.last > 0) {
      if (side === 'buy' && this.last >= stopPrice) return bad('STOP_WOULD_TRIGGER');
      if (side === 'sell' && this.last <= stopPrice) return bad('STOP_WOULD_TRIGGER');
    }
    if (type === 'limit' && postOnly && this.wouldCross(side, price)) return bad('POST_ONLY_WOULD_TAKE');
    if (type === 'limit' && tif === 'FOK' && !this.fokFillable(side, price, qty, acct, stp as string)) {
      return bad('FOK_CANNOT_FILL');
    }
    if (type === 'market' && !this.liquidityFor(side, protection)) return bad('NO_LIQUIDITY');

    const order: RefOrder = {
      id,
      acct,
      side,
      type,
      price,
      qty,
      remaining: qty,
      visible: qty,
      display: c.displayQty === undefined ? 0 : (c.displayQty as number),
      stp: stp as string,
      postOnly,
      tif,
      stopPrice,
      protection,
      budget: !hasLimitPrice && c.quoteBudget !== undefined ? (c.quoteBudget as number) : null,
      time: 0,
    };
    this.push({
      type: 'accepted',
      seq: 0,
      orderId: id,
      accountId: acct,
      side,
      orderType: type,
      price: hasLimitPrice ? price : protection,
      qty,
    });
    if (isStop) {
      order.time = ++this.clock;
      this.stops.push(order);
      return;
    }
    const triggered: RefOrder[] = [];
    this.takeAndFinish(order, triggered);
    this.cascade(triggered);
  }

  private cancel(c: AnyCommand): void {
    if (typeof c.orderId !== 'string' || c.orderId === '')
      return this.emitReject('cancel', '', '', 'INVALID_ORDER_ID');
    const id = c.orderId;
    const stop = this.stops.find((s) => s.id === id);
    if (stop) {
      this.stops = this.stops.filter((s) => s !== stop);
      this.pushCancelled(stop, 'USER');
      return;
    }
    const o = this.resting.find((r) => r.id === id);
    if (!o) return this.emitReject('cancel', id, '', 'UNKNOWN_ORDER');
    this.resting = this.resting.filter((r) => r !== o);
    this.pushCancelled(o, 'USER');
  }

  private amend(c: AnyCommand): void {
    if (typeof c.orderId !== 'string' || c.orderId === '')
      return this.emitReject('amend', '', '', 'INVALID_ORDER_ID');
    const id = c.orderId;
    const stop = this.stops.find((s) => s.id === id);
    if (stop) return this.emitReject('amend', id, stop.acct, 'NOT_AMENDABLE');
    const o = this.resting.find((r) => r.id === id);
    if (!o) return this.emitReject('amend', id, '', 'UNKNOWN_ORDER');
    const bad = (r: RejectReason): void => this.emitReject('amend', id, o.acct, r);
    if (c.price === undefined && c.qty === undefined) return bad('INVALID_AMEND');
    if (c.price !== undefined && !isPosInt(c.price)) return bad('INVALID_PRICE');
    if (c.qty !== undefined && !isPosInt(c.qty)) return bad('INVALID_QUANTITY');
    const newPrice = c.price === undefined ? o.price : (c.price as number);
    const newQty = c.qty === undefined ? o.qty : (c.qty as number);
    const filled = o.qty - o.remaining;
    if (newQty <= filled) {
      this.resting = this.resting.filter((r) => r !== o);
      this.pushCancelled(o, 'AMEND_TO_FILLED');
      return;
    }
    if (newQty < this.config.minQty) return bad('BELOW_MIN_QTY');
    if (!Number.isSafeInteger(newPrice * newQty)) return bad('NOTIONAL_OVERFLOW');
    if (newPrice * newQty < this.config.minNotional) return bad('BELOW_MIN_NOTIONAL');
    if (newPrice !== o.price && !this.priceAllowed(newPrice)) return bad('PRICE_OUT_OF_BAND');
    if (newPrice !== o.price && o.postOnly && this.wouldCross(o.side, newPrice)) {
      return bad('POST_ONLY_WOULD_TAKE');
    }
    if (newPrice === o.price && newQty <= o.qty) {
      o.remaining = newQty - filled;
      o.visible = Math.min(o.visible, o.remaining);
      o.qty = newQty;
      this.pushAmended(o, true);
      return;
    }
    this.resting = this.resting.filter((r) => r !== o);
    o.price = newPrice;
    o.qty = newQty;
    o.remaining = newQty - filled;
    this.pushAmended(o, false);
    const triggered: RefOrder[] = [];
    this.takeAndFinish(o, triggered);
    this.cascade(triggered);
  }

  private cascade(queue: RefOrder[]): void {
    while (queue.length > 0) {
      const s = queue.shift() as RefOrder;
      this.push({
        type: 'triggered',
        seq: 0,
        orderId: s.id,
        accountId: s.acct,
        stopPrice: s.stopPrice,
        lastPrice: this.last,
      });
      if (s.type === 'stop-market') {
        s.type = 'market';
        if (!this.liquidityFor(s.side, s.protection)) {
          this.pushExpired(s, 'NO_LIQUIDITY');
          continue;
        }
      } else {
        s.type = 'limit';
        if (s.tif === 'FOK' && !this.fokFillable(s.side, s.price, s.remaining, s.acct, s.stp)) {
          this.pushExpired(s, 'FOK_CANNOT_FILL');
          continue;
        }
      }
      this.takeAndFinish(s, queue);
    }
  }

  // Matches the taker, then rests / expires / cancels it, then appends newly triggered stops.
  private takeAndFinish(t: RefOrder, triggered: RefOrder[]): void {
    const lastBefore = this.last;
    let outcome = 'done';
    const bound = t.type === 'limit' ? t.price : t.protection;
    while (t.remaining > 0) {
      const maker = this.bestMaker(t.side === 'buy' ? 'sell' : 'buy');
      if (!maker) break;
      if (bound > 0 && t.side === 'buy' && maker.price > bound) break;
      if (bound > 0 && t.side === 'sell' && maker.price < bound) break;
      if (t.stp !== 'none' && maker.acct === t.acct) {
        if (t.stp === 'cancel-maker' || t.stp === 'cancel-both') {
          this.resting = this.resting.filter((r) => r !== maker);
          this.pushCancelled(maker, 'SELF_TRADE');
        }
        if (t.stp === 'cancel-maker') continue;
        outcome = 'stp';
        break;
      }
      let q = Math.min(t.remaining, maker.visible);
      if (t.budget !== null) {
        const affordable = Math.floor(t.budget / maker.price);
        if (affordable === 0) {
          outcome = 'budget';
          break;
        }
        q = Math.min(q, affordable);
        t.budget -= q * maker.price;
      }
      maker.remaining -= q;
      maker.visible -= q;
      t.remaining -= q;
      this.last = maker.price;
      this.push({
        type: 'trade',
        seq: 0,
        price: maker.price,
        qty: q,
        makerOrderId: maker.id,
        takerOrderId: t.id,
        makerAccountId: maker.acct,
        takerAccountId: t.acct,
        takerSide: t.side,
        makerRemainingQty: maker.remaining,
        takerRemainingQty: t.remaining,
      });
      if (maker.remaining === 0) {
        this.resting = this.resting.filter((r) => r !== maker);
      } else if (maker.visible === 0) {
        maker.visible = Math.min(maker.display, maker.remaining);
        maker.time = ++this.clock;
      }
    }
    if (t.remaining > 0) {
      if (outcome === 'stp') {
        this.pushCancelled(t, 'SELF_TRADE');
      } else if (t.type === 'limit' && t.tif === 'GTC') {
        t.visible = t.display > 0 ? Math.min(t.display, t.remaining) : t.remaining;
        t.time = ++this.clock;
        this.resting.push(t);
        this.push({
          type: 'rested',
          seq: 0,
          orderId: t.id,
          accountId: t.acct,
          side: t.side,
          price: t.price,
          remainingQty: t.remaining,
          visibleQty: t.visible,
        });
      } else {
        this.pushExpired(t, outcome === 'budget' ? 'BUDGET_EXHAUSTED' : 'IMMEDIATE_REMAINDER');
      }
    }
    if (this.last !== lastBefore) {
      const last = this.last;
      const buys = this.stops
        .filter((s) => s.side === 'buy' && s.stopPrice <= last)
        .sort((a, b) => a.stopPrice - b.stopPrice || a.time - b.time);
      const sells = this.stops
        .filter((s) => s.side === 'sell' && s.stopPrice >= last)
        .sort((a, b) => b.stopPrice - a.stopPrice || a.time - b.time);
      for (const s of [...buys, ...sells]) {
        this.stops = this.stops.filter((x) => x !== s);
        triggered.push(s);
      }
    }
  }

  private bestMaker(side: Side): RefOrder | undefined {
    let best: RefOrder | undefined;
    for (const o of this.resting) {
      if (o.side !== side) continue;
      if (!best) best = o;
      else if (side === 'buy' ? o.price > best.price : o.price < best.price) best = o;
      else if (o.price === best.price && o.time < best.time) best = o;
    }
    return best;
  }

  // Opposite orders within `limit`, in the order a taker would meet them now.
  private oppositeInRange(side: Side, limit: number): RefOrder[] {
    const opp = side === 'buy' ? 'sell' : 'buy';
    return this.resting
      .filter((o) => o.side === opp && (side === 'buy' ? o.price <= limit : o.price >= limit))
      .sort((a, b) => (side === 'buy' ? a.price - b.price : b.price - a.price) || a.time - b.time);
  }

  // FOK pre-check as a dry run of the match on copies of the makers: price-time order, an
  // iceberg's refilled slice re-queued at the back, own orders cancelled (cancel-maker) or ending
  // the walk (cancel-taker, cancel-both) as the real match would. Fillable iff it fills `qty`.
  private fokFillable(side: Side, limit: number, qty: number, acct: string, stp: string): boolean {
    let book = this.oppositeInRange(side, limit).map((o) => ({ ...o }));
    let clock = this.clock;
    let need = qty;
    while (need > 0) {
      book.sort((a, b) => (side === 'buy' ? a.price - b.price : b.price - a.price) || a.time - b.time);
      const maker = book[0];
      if (!maker) return false;
      if (stp !== 'none' && maker.acct === acct) {
        if (stp !== 'cancel-maker') return false;
        book = book.slice(1);
        continue;
      }
      const q = Math.min(need, maker.visible);
      need -= q;
      maker.remaining -= q;
      maker.visible -= q;
      if (maker.remaining === 0) {
        book = book.slice(1);
      } else if (maker.visible === 0) {
        maker.visible = Math.min(maker.display, maker.remaining);
        maker.time = ++clock;
      }
    }
    return true;
  }

  private wouldCross(side: Side, price: number): boolean {
    const best = this.bestMaker(side === 'buy' ? 'sell' : 'buy');
    if (!best) return false;
    return side === 'buy' ? best.price <= price : best.price >= price;
  }

  private liquidityFor(side: Side, protection: number): boolean {
    const best = this.bestMaker(side === 'buy' ? 'sell' : 'buy');
    if (!best) return false;
    if (protection === 0) return true;
    return side === 'buy' ? best.price <= protection : best.price >= protection;
  }

  private priceAllowed(price: number): boolean {
    const band = this.config.priceBand;
    if (!band) return true;
    if (band.minPrice !== undefined && price < band.minPrice) return false;
    if (band.maxPrice !== undefined && price > band.maxPrice) return false;
    if (
      band.maxDeviationTicks !== undefined &&
      this.last > 0 &&
      Math.abs(price - this.last) > band.maxDeviationTicks
    ) {
      return false;
    }
    return true;
  }

  private findLive(id: string): boolean {
    return this.resting.some((r) => r.id === id) || this.stops.some((s) => s.id === id);
  }

  private push(e: EngineEvent): void {
    e.seq = ++this.seq;
    this.out.push(e);
  }

  private emitReject(
    command: 'new' | 'cancel' | 'amend' | 'unknown',
    orderId: string,
    accountId: string,
    reason: RejectReason,
  ): void {
    this.push({ type: 'rejected', seq: 0, command, orderId, accountId, reason });
  }

  private pushCancelled(o: RefOrder, reason: CancelReason): void {
    this.push({
      type: 'cancelled',
      seq: 0,
      orderId: o.id,
      accountId: o.acct,
      remainingQty: o.remaining,
      reason,
    });
  }

  private pushExpired(o: RefOrder, reason: ExpireReason): void {
    this.push({
      type: 'expired',
      seq: 0,
      orderId: o.id,
      accountId: o.acct,
      remainingQty: o.remaining,
      reason,
    });
  }

  private pushAmended(o: RefOrder, keptPriority: boolean): void {
    this.push({
      type: 'amended',
      seq: 0,
      orderId: o.id,
      accountId: o.acct,
      price: o.price,
      qty: o.qty,
      remainingQty: o.remaining,
      keptPriority,
    });
  }
}
