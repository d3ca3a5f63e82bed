import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  orderCommandSchema,
  TOPICS,
  type AmendOrderCommand,
  type CancelOrderCommand,
  type OrderCommand,
  type PlaceOrderCommand,
} from '@trading/contracts';
import { OrderQueriesRepository } from '@trading/db';
import { ContractViolationError } from '@trading/kafka';
import { DatabaseService, ProducerService, RedisService } from '@trading/nest-common';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { dbCall, redisCall } from '../common/dependency-call';
import { GatewayMetrics } from '../common/gateway.metrics';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';
import { MarketLookupService } from '../markets/market-lookup.service';
import {
  amendOrderRequestSchema,
  FINAL_STATUSES,
  orderIdParamSchema,
  placeOrderRequestSchema,
} from './order-request.schema';
import { requireTradingMarket, validateAmend, validatePlaceOrder } from './order-rules';

export interface OrderAck {
  orderId: string;
  clientOrderId: string | null;
  status: 'pending' | 'cancel_requested' | 'amend_requested';
}

const CLIENT_ORDER_ID_TTL_SECONDS = 24 * 3600;
/**
 * An accepted order is in the database once the router stored it, a few milliseconds to (under
 * load) seconds after its 202. Until then the gateway answers cancels and amends of the caller's
 * own order from this record, so a client never gets a 404 for an order id it was just given.
 */
const ACCEPTED_ORDER_TTL_SECONDS = 600;
const acceptedKey = (orderId: string): string => `accepted:${orderId}`;

interface AcceptedOrder {
  accountId: string;
  symbol: string;
  orderType: string;
  clientOrderId: string | null;
}
// A clientOrderId reservation reads `?<orderId>` until Kafka acknowledged the command, then
// `<orderId>`. A reservation left pending by a failed attempt is not a phantom: the next attempt
// re-sends that order id, and the router drops the copy if the first one did arrive after all.
const PENDING = '?';

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

  async place(account: AuthenticatedAccount, body: unknown, receivedAt = Date.now()): Promise<OrderAck> {
    const started = process.hrtime.bigint();
    this.metrics.ordersReceived.inc();
    try {
      const parsed = placeOrderRequestSchema.safeParse(body ?? {});
      if (!parsed.success) throw fromZodError(parsed.error);
      const fields = validatePlaceOrder(parsed.data, await this.markets.find(parsed.data.symbol));
      // Fail fast rather than queue behind a producer that is not connected.
      if (!this.producer.producer.isConnected) throw GatewayException.dependencyUnavailable('kafka');

      let orderId: string = randomUUID();
      const coidKey = fields.clientOrderId ? `coid:${account.accountId}:${fields.clientOrderId}` : null;
      if (coidKey) {
        const claim = await this.claimClientOrderId(coidKey, orderId);
        // A retry of an acknowledged order: same order, no second command.
        if (claim.acknowledged) {
          this.metrics.ordersAccepted.inc();
          return { orderId: claim.orderId, clientOrderId: fields.clientOrderId ?? null, status: 'pending' };
        }
        // Ours, or an earlier attempt whose fate is unknown (503 after a timeout): the command
        // goes out (again) with that attempt's order id; the router keeps one per clientOrderId.
        orderId = claim.orderId;
      }
      const accepted: AcceptedOrder = {
        accountId: account.accountId,
        symbol: fields.symbol,
        orderType: fields.orderType,
        clientOrderId: fields.clientOrderId ?? null,
      };
      try {
        await Promise.all([
          this.produce({
            ...fields,
            kind: 'place',
            commandId: randomUUID(),
            accountId: account.accountId,
            orderId,
            receivedAt,
          }),
          redisCall(this.redis.redis, () =>
            this.redis.redis.set(
              acceptedKey(orderId),
              JSON.stringify(accepted),
              'EX',
              ACCEPTED_ORDER_TTL_SECONDS,
            ),
          ),
        ]);
      } catch (err) {
        // Not acknowledged: no cancel/amend record (the clientOrderId reservation stays pending,
        // so a retry re-sends this order id).
        await this.redis.redis.del(acceptedKey(orderId)).catch(() => undefined);
        throw err;
      }
      if (coidKey) this.acknowledgeClientOrderId(coidKey, orderId);
      this.metrics.ordersAccepted.inc();
      this.metrics.orderAckDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return { orderId, clientOrderId: fields.clientOrderId ?? null, status: 'pending' };
    } catch (err) {
      this.metrics.rejected(err instanceof GatewayException ? err.code : ErrorCode.INTERNAL_ERROR);
      throw err;
    }
  }

  async cancel(account: AuthenticatedAccount, orderId: string, receivedAt = Date.now()): Promise<OrderAck> {
    const order = await this.openOrder(account, orderId);
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
    const order = await this.openOrder(account, orderId);
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

  /** The caller's order while it can still change; someone else's is indistinguishable from none. */
  private async openOrder(
    account: AuthenticatedAccount,
    orderId: string,
  ): Promise<{ orderId: string; symbol: string; orderType: string; clientOrderId: string | null }> {
    if (!orderIdParamSchema.safeParse(orderId).success) throw notFound();
    const order = await dbCall(this.db.dataSource, () => this.queries.findOwn(account.accountId, orderId));
    if (!order) {
      // Accepted but not stored yet: the router sees this command after the placement (same
      // account, same partition) and decides.
      const raw = await redisCall(this.redis.redis, () => this.redis.redis.get(acceptedKey(orderId)));
      const accepted = raw ? (JSON.parse(raw) as AcceptedOrder) : null;
      if (!accepted || accepted.accountId !== account.accountId) throw notFound();
      return { orderId, ...accepted };
    }
    if (FINAL_STATUSES.has(order.status)) {
      throw new GatewayException(ErrorCode.ORDER_NOT_OPEN, `order is ${order.status}`);
    }
    return order;
  }

  /** SET NX of the clientOrderId; an earlier attempt's order id wins, with whether Kafka has it. */
  private async claimClientOrderId(
    key: string,
    orderId: string,
  ): Promise<{ orderId: string; acknowledged: boolean }> {
    const redis = this.redis.redis;
    return redisCall(redis, async () => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const set = await redis.set(key, PENDING + orderId, 'EX', CLIENT_ORDER_ID_TTL_SECONDS, 'NX');
        if (set === 'OK') return { orderId, acknowledged: false };
        const existing = await redis.get(key);
        // Expired between the two calls: claim again.
        if (existing?.startsWith(PENDING)) return { orderId: existing.slice(1), acknowledged: false };
        if (existing) return { orderId: existing, acknowledged: true };
      }
      throw GatewayException.dependencyUnavailable('redis');
    });
  }

  /** Best effort: if it is lost, a retry re-sends the order and the router drops the copy. */
  private acknowledgeClientOrderId(key: string, orderId: string): void {
    void this.redis.redis.set(key, orderId, 'EX', CLIENT_ORDER_ID_TTL_SECONDS, 'XX').catch(() => undefined);
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
      throw GatewayException.dependencyUnavailable('kafka');
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

function notFound(): GatewayException {
  return new GatewayException(ErrorCode.ORDER_NOT_FOUND, 'order not found');
}
