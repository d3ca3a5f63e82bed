import { Injectable, Logger } from '@nestjs/common';
import { redisKeys } from '@trading/contracts';
import { RedisService } from '@trading/nest-common';
import { StreamPublisher } from '@trading/redis';
import { isFinal, type StreamUpdate } from '@trading/risk-engine';

/** What the caller's private channel carries: order state changes and balance movements. */
export type OrderStreamUpdate = StreamUpdate;

/**
 * The gateway's accepted-order records of the orders a batch made final. The caller's own updates
 * themselves go to account.events.v1 (numbered, at least once, ADR 0014); this only keeps the
 * gateway's cancel shortcut honest.
 */
@Injectable()
export class OrderStreamPublisher {
  private readonly logger = new Logger(OrderStreamPublisher.name);
  private readonly publisher: StreamPublisher;

  constructor(redis: RedisService) {
    this.publisher = new StreamPublisher(redis.redis);
  }

  /**
   * One Redis write per batch deleting the gateway's accepted-order record of every order the
   * batch made final (an update with a final status: filled, cancelled, rejected, expired,
   * including the router's own rejections of placements) and of the `forget` orders, so the
   * gateway answers a cancel of a finished order from the database (409 ORDER_NOT_OPEN) instead
   * of from the record. Best effort: the database is the record; a Redis outage must not stall
   * order state (a record left behind expires with its TTL).
   */
  async publish(
    byAccount: ReadonlyMap<string, OrderStreamUpdate[]>,
    forget: Iterable<string> = [],
  ): Promise<void> {
    const done = new Set<string>(forget);
    for (const updates of byAccount.values())
      for (const u of updates) if (u.type === 'order' && isFinal(u.status)) done.add(u.orderId);
    try {
      await this.publisher.publishMany(
        [],
        [...done].map((id) => redisKeys.acceptedOrder(id)),
      );
    } catch (err) {
      this.logger.warn(`accepted-order records not deleted: ${(err as Error).message}`);
    }
  }
}
