import { Injectable, Logger } from '@nestjs/common';
import { redisKeys } from '@trading/contracts';
import { RedisService } from '@trading/nest-common';
import { StreamPublisher } from '@trading/redis';

/** What the caller's private channel carries: order state changes and balance movements. */
export type OrderStreamUpdate =
  | {
      type: 'order';
      orderId: string;
      symbol: string;
      status: string;
      reason: string | null;
      filledQty?: number;
      qty?: number;
      lastSeq?: number;
      event?: string;
    }
  | {
      type: 'deposit' | 'withdrawal';
      commandId: string;
      asset: string;
      status: 'applied' | 'rejected';
      reason: string | null;
    };

/** The caller's own order updates, for the gateway's authenticated WebSocket channel. */
@Injectable()
export class OrderStreamPublisher {
  private readonly logger = new Logger(OrderStreamPublisher.name);
  private readonly publisher: StreamPublisher;

  constructor(redis: RedisService) {
    this.publisher = new StreamPublisher(redis.redis);
  }

  /**
   * Every update of a batch, all accounts, in one Redis pipeline (one write instead of one round
   * trip per update). Best effort: the database is the record; a Redis outage must not stall
   * order state.
   */
  async publish(byAccount: ReadonlyMap<string, OrderStreamUpdate[]>): Promise<void> {
    const messages: { channel: string; data: OrderStreamUpdate }[] = [];
    for (const [accountId, updates] of byAccount) {
      const channel = redisKeys.orderChannel(accountId);
      for (const u of updates) messages.push({ channel, data: u });
    }
    try {
      await this.publisher.publishMany(messages);
    } catch (err) {
      this.logger.warn(`order stream publish failed: ${(err as Error).message}`);
    }
  }
}
