import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  orderCommandSchema,
  redisKeys,
  TOPICS,
  type AmendOrderCommand,
  type CancelOrderCommand,
  type OrderCommand,
  type PlaceOrderCommand,
} from '@trading/contracts';
import { OrderQueriesRepository, type OrderRow } from '@trading/db';
import { ContractViolationError } from '@trading/kafka';
import { DatabaseService, ProducerService, RedisService } from '@trading/nest-common';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { dbCall, redisCall } from '../common/dependency-call';
import { GatewayMetrics } from '../common/gateway.metrics';
import { DependencyUnavailableError, ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';
import { MarketLookupService } from '../markets/market-lookup.service';
import {
  amendOrderRequestSchema,
  FINAL_STATUSES,
  orderIdParamSchema,
  placeOrderRequestSchema,
} from './order-request.schema';
import {
  requireTradingMarket,
  validateAmend,
  validatePlaceOrder,
  type PlaceOrderFields,
} from './order-rules';

export interface OrderAck {
  orderId: string;
  clientOrderId: string | null;
  status: 'pending' | 'cancel_requested' | 'amend_requested';
}

/**
 * The record of an accepted order (redisKeys.acceptedOrder), written before the 202 and deleted
 * by the order-router once the order is final (or when a placement retry finds it stored). Only
 * the first placement of an order id writes it (SET NX): a retry never changes it. A
 * cancel of the caller's own order is answered from it without PostgreSQL; an amend reads the
 * database first and uses it only until the router stored the order, a few milliseconds to (under
 * load) seconds after its 202, so a client never gets a 404 for an order id it was just given.
 */
const ACCEPTED_ORDER_TTL_SECONDS = 600;
const acceptedKey = redisKeys.acceptedOrder;

interface AcceptedOrder {
  accountId: string;
  symbol: string;
  orderType: string;
  clientOrderId: string | null;
  /** With a clientOrderId: the fingerprint of the order's canonical fields (orderFingerprint). */
  fp?: string;
}

/** How long a placement waits for the database to say whether its clientOrderId is stored. */
const STORED_ORDER_LOOKUP_MS = 250;

/**
 * Fields the gateway derived from the book rather than took from the client (the Binance
 * dialect's market buys: a quantity from quoteOrderQty, a protection price from a quantity). They
 * differ between retries as the book moves, so they do not make a retry another order.
 */
export interface DerivedFields {
  qty?: boolean;
  protectionPrice?: boolean;
}
const NONE_DERIVED: DerivedFields = {};

/**
 * What makes two placements "the same order" for a clientOrderId: every field of the order after
 * the gateway's conversion (ticks, lots, defaults applied), so `"100"` and `"100.00"`, or an
 * omitted `timeInForce` and `"GTC"`, are the same; any other difference is another order.
 */
export function orderFingerprint(f: PlaceOrderFields, derived: DerivedFields = NONE_DERIVED): string {
  const canonical = [
    f.symbol,
    f.side,
    f.orderType,
    derived.qty ? null : f.qty,
    f.price ?? null,
    f.tif,
    f.postOnly,
    f.displayQty ?? null,
    f.stopPrice ?? null,
    derived.protectionPrice ? null : (f.protectionPrice ?? null),
    f.quoteBudget ?? null,
    f.stp,
  ];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 22);
}

/**
 * A stored order against a placement, on the fields an amend cannot change (price and quantity
 * can be amended, so the stored row no longer says what was placed).
 */
function sameStoredOrder(row: OrderRow, f: PlaceOrderFields): boolean {
  return (
    row.symbol === f.symbol &&
    row.side === f.side &&
    row.orderType === f.orderType &&
    row.tif === f.tif &&
    row.postOnly === f.postOnly &&
    row.stopPrice === (f.stopPrice === undefined ? null : String(f.stopPrice)) &&
    row.displayQty === (f.displayQty === undefined ? null : String(f.displayQty))
  );
}

function clientOrderIdReused(clientOrderId: string, orderId: string): GatewayException {
  return new GatewayException(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    `clientOrderId ${clientOrderId} is order ${orderId}, placed with other fields; use a new clientOrderId`,
    'clientOrderId',
  );
}
/**
 * The order id of an account's clientOrderId: the same on every retry, whichever gateway answers
 * and whatever it remembers, so a retry after a lost answer, a gateway crash or a Kafka timeout
 * sends the same order again and the router keeps one (the first with that clientOrderId).
 * SHA-256 of both, in UUID layout (version 8, RFC 9562 variant).
 */
export function clientOrderIdToOrderId(accountId: string, clientOrderId: string): string {
  const h = createHash('sha256').update(`${accountId}\u0000${clientOrderId}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

type OpenOrder = { orderId: string; symbol: string; orderType: string; clientOrderId: string | null };

/** An order not stored yet, as its accepted-order record describes it. */
const openOrderOf = (orderId: string, r: AcceptedOrder): OpenOrder => ({
  orderId,
  symbol: r.symbol,
  orderType: r.orderType,
  clientOrderId: r.clientOrderId,
});

class AckTimeoutError extends Error {}

/**
 * The write side: validates, assigns ids, produces commands on orders.commands.v1 (keyed by
 * account) and answers only once Kafka acknowledged them (acks=all).
 */
@Injectable()
export class OrdersService {
  private readonly logger = new Logger(OrdersService.name);

  constructor(
    private readonly producer: ProducerService,
    private readonly redis: RedisService,
    private readonly db: DatabaseService,
    private readonly queries: OrderQueriesRepository,
    private readonly markets: MarketLookupService,
    private readonly metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  async place(
    account: AuthenticatedAccount,
    body: unknown,
    receivedAt = Date.now(),
    derived: DerivedFields = NONE_DERIVED,
  ): Promise<OrderAck> {
    const started = process.hrtime.bigint();
    this.metrics.ordersReceived.inc();
    try {
      const parsed = placeOrderRequestSchema.safeParse(body ?? {});
      if (!parsed.success) throw fromZodError(parsed.error);
      const fields = validatePlaceOrder(parsed.data, await this.markets.find(parsed.data.symbol));
      // Fail fast rather than queue behind a producer that is not connected.
      if (!this.producer.producer.isConnected) throw GatewayException.dependencyUnavailable('kafka');

      // With a clientOrderId every attempt is the same order: an answer lost to a crash or a
      // timeout is retried safely (the router drops the copies), no matter what Redis remembers.
      const orderId = fields.clientOrderId
        ? clientOrderIdToOrderId(account.accountId, fields.clientOrderId)
        : randomUUID();
      const accepted: AcceptedOrder = {
        accountId: account.accountId,
        symbol: fields.symbol,
        orderType: fields.orderType,
        clientOrderId: fields.clientOrderId ?? null,
        ...(fields.clientOrderId ? { fp: orderFingerprint(fields, derived) } : {}),
      };
      // The record for an early cancel is best effort: accepting the order needs Kafka only. With
      // a clientOrderId it is claimed first: a retry with other fields is refused before Kafka.
      let wrote = true;
      let remembered: Promise<unknown> = Promise.resolve();
      if (fields.clientOrderId) wrote = await this.claimOrderId(account, orderId, accepted, fields);
      else
        remembered = this.redis.redis
          .set(acceptedKey(orderId), JSON.stringify(accepted), 'EX', ACCEPTED_ORDER_TTL_SECONDS)
          .catch(() => undefined);
      try {
        await this.produce({
          ...fields,
          kind: 'place',
          commandId: randomUUID(),
          accountId: account.accountId,
          orderId,
          receivedAt,
        });
      } catch (err) {
        // Sent but not confirmed: the order may still stand, so it stays cancellable and the client
        // learns which order to look up (or to retry). Never sent: no record.
        if (err instanceof DependencyUnavailableError && err.outcomeUnknown) throw err.forOrder(orderId);
        // A record an earlier attempt wrote stays: that attempt may stand.
        if (wrote)
          void remembered.then(() => this.redis.redis.del(acceptedKey(orderId))).catch(() => undefined);
        throw err;
      }
      await remembered;
      this.metrics.ordersAccepted.inc();
      this.metrics.orderAckDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return { orderId, clientOrderId: fields.clientOrderId ?? null, status: 'pending' };
    } catch (err) {
      this.metrics.rejected(err instanceof GatewayException ? err.code : ErrorCode.INTERNAL_ERROR);
      throw err;
    }
  }

  /**
   * The accepted-order record of a clientOrderId's order, written only if there is none (true:
   * written here). A record with another fingerprint, or a stored order with other fields
   * (sameStoredOrder), is 409 IDEMPOTENCY_KEY_REUSED and nothing changes. An identical retry
   * leaves the record as it is. Without a record (never placed; expired after 10 minutes; deleted
   * once the order was final; Redis down) the database is asked, for at most
   * STORED_ORDER_LOOKUP_MS: an order it cannot show in time is treated as not stored, and the
   * router still drops the retry (same order id), changing nothing.
   */
  private async claimOrderId(
    account: AuthenticatedAccount,
    orderId: string,
    accepted: AcceptedOrder,
    fields: PlaceOrderFields,
  ): Promise<boolean> {
    const key = acceptedKey(orderId);
    let claimed: 'OK' | null | undefined;
    try {
      claimed = await this.redis.redis.set(
        key,
        JSON.stringify(accepted),
        'EX',
        ACCEPTED_ORDER_TTL_SECONDS,
        'NX',
      );
    } catch {
      claimed = undefined;
    }
    if (claimed === null) {
      const raw = await this.redis.redis.get(key).catch(() => null);
      if (raw) {
        const first = JSON.parse(raw) as AcceptedOrder;
        // A record without a fingerprint (written before this rule) cannot tell: the router decides.
        if (first.fp !== undefined && first.fp !== accepted.fp)
          throw clientOrderIdReused(fields.clientOrderId!, orderId);
        return false;
      }
    }
    const stored = await this.storedOrder(account.accountId, orderId);
    if (stored && !sameStoredOrder(stored, fields)) {
      if (claimed === 'OK') await this.redis.redis.del(key).catch(() => undefined);
      throw clientOrderIdReused(fields.clientOrderId!, orderId);
    }
    return claimed === 'OK';
  }

  /** The caller's stored order, or null when there is none or the database does not answer in time. */
  private async storedOrder(accountId: string, orderId: string): Promise<OrderRow | null> {
    if (!this.db.dataSource.isInitialized) return null;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.queries.findOwn(accountId, orderId),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), STORED_ORDER_LOOKUP_MS);
        }),
      ]);
    } catch {
      return null;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** `symbol`: when given, an order of another market is not found (nothing is sent). */
  async cancel(
    account: AuthenticatedAccount,
    orderId: string,
    receivedAt = Date.now(),
    symbol?: string,
  ): Promise<OrderAck> {
    const order = await this.cancellableOrder(account, orderId);
    if (symbol !== undefined && order.symbol !== symbol) throw notFound();
    await this.produce({
      kind: 'cancel',
      commandId: randomUUID(),
      accountId: account.accountId,
      orderId: order.orderId,
      symbol: order.symbol,
      receivedAt,
    });
    return { orderId: order.orderId, clientOrderId: order.clientOrderId, status: 'cancel_requested' };
  }

  async amend(
    account: AuthenticatedAccount,
    orderId: string,
    body: unknown,
    receivedAt = Date.now(),
  ): Promise<OrderAck> {
    const parsed = amendOrderRequestSchema.safeParse(body ?? {});
    if (!parsed.success) throw fromZodError(parsed.error);
    const order = await this.openOrder(account, orderId, 'amend');
    const market = requireTradingMarket(order.symbol, await this.markets.find(order.symbol));
    const change = validateAmend(parsed.data, market, order);
    await this.produce({
      kind: 'amend',
      commandId: randomUUID(),
      accountId: account.accountId,
      orderId: order.orderId,
      symbol: order.symbol,
      receivedAt,
      ...change,
    });
    return { orderId: order.orderId, clientOrderId: order.clientOrderId, status: 'amend_requested' };
  }

  /**
   * The order a cancel names. A cancel needs only the order's symbol, so the accepted-order record
   * answers for the caller's own order without PostgreSQL; someone else's record is a 404 like
   * someone else's row. No record (never accepted here, expired, or deleted by the router because
   * the order is final) or Redis not answering: the database decides, as for an amend (404, 409
   * ORDER_NOT_OPEN). A cancel arriving between the router's commit of a final state and its
   * delete of the record gets 202 and is refused by the matching engine (docs/api.md).
   */
  private async cancellableOrder(account: AuthenticatedAccount, orderId: string): Promise<OpenOrder> {
    if (!orderIdParamSchema.safeParse(orderId).success) throw notFound();
    let accepted: AcceptedOrder | null | undefined;
    try {
      accepted = await this.acceptedOrder(orderId);
    } catch {
      // The record only saves a query: whatever went wrong with Redis, the database decides.
      accepted = undefined;
    }
    if (!accepted) return this.openOrder(account, orderId, 'cancel', accepted);
    this.metrics.orderLookups.inc({ command: 'cancel', source: 'redis' });
    if (accepted.accountId !== account.accountId) throw notFound();
    return openOrderOf(orderId, accepted);
  }

  /**
   * The caller's order while it can still change; someone else's is indistinguishable from none.
   * `accepted`: the accepted-order record when the caller already read it (null: there is none),
   * undefined to read it here if the database has no row.
   */
  private async openOrder(
    account: AuthenticatedAccount,
    orderId: string,
    command: 'cancel' | 'amend',
    accepted?: AcceptedOrder | null,
  ): Promise<OpenOrder> {
    if (!orderIdParamSchema.safeParse(orderId).success) throw notFound();
    this.metrics.orderLookups.inc({ command, source: 'database' });
    const order = await dbCall(this.db.dataSource, () => this.queries.findOwn(account.accountId, orderId));
    if (!order) {
      // Accepted but not stored yet: the router sees this command after the placement (same
      // account, same partition) and decides.
      const record = accepted === undefined ? await this.acceptedOrder(orderId) : accepted;
      if (!record || record.accountId !== account.accountId) throw notFound();
      return openOrderOf(orderId, record);
    }
    if (FINAL_STATUSES.has(order.status)) {
      throw new GatewayException(ErrorCode.ORDER_NOT_OPEN, `order is ${order.status}`);
    }
    return order;
  }

  /** The accepted-order record, null when there is none; 503 naming Redis when it cannot say. */
  private async acceptedOrder(orderId: string): Promise<AcceptedOrder | null> {
    const raw = await redisCall(this.redis.redis, () => this.redis.redis.get(acceptedKey(orderId)));
    return raw ? (JSON.parse(raw) as AcceptedOrder) : null;
  }

  /**
   * Produces the command and waits for acks=all, at most ORDER_ACK_TIMEOUT_MS. A command still
   * queued at that deadline is dropped by the producer, never sent after the 503.
   */
  private async produce(command: PlaceOrderCommand | CancelOrderCommand | AmendOrderCommand): Promise<void> {
    if (!this.producer.producer.isConnected) throw GatewayException.dependencyUnavailable('kafka');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.producer.producer.send({
          topic: TOPICS.orderCommands.name,
          key: command.accountId,
          value: command as OrderCommand,
          schema: orderCommandSchema,
          deadline: Date.now() + this.config.ORDER_ACK_TIMEOUT_MS,
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AckTimeoutError()), this.config.ORDER_ACK_TIMEOUT_MS);
        }),
      ]);
    } catch (err) {
      // A contract violation is our bug, not an outage.
      if (err instanceof ContractViolationError) throw err;
      this.logger.warn(
        `command ${command.kind} ${command.orderId} not acknowledged: ${err instanceof AckTimeoutError ? 'timeout' : (err as Error).message}`,
      );
      throw new DependencyUnavailableError('kafka', true);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

function notFound(): GatewayException {
  return new GatewayException(ErrorCode.ORDER_NOT_FOUND, 'order not found');
}
