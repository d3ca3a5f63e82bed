import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Consumer, ConsumerConfig, Kafka } from 'kafkajs';
import { redisKeys, TOPICS } from '@trading/contracts';
import { fetchOptions, type PatchedConsumerConfig } from '@trading/kafka';
import { KAFKA } from '@trading/nest-common';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { StreamHub } from './stream-hub.service';

// The consumer's own retries: the gateway's Kafka client gives up fast (an order during an outage
// gets its 503), but the feed must come back by itself after an outage.
const FEED_RETRY = { initialRetryTime: 300, maxRetryTime: 5000, retries: Number.MAX_SAFE_INTEGER };

/**
 * Every gateway reads all of account.events.v1 (the order-router's numbered per-account stream,
 * ADR 0014) from its end, in a consumer group of its own that commits nothing: a socket that
 * subscribes starts from a snapshot read after the feed runs, so nothing before it is needed, and
 * a record missed (the feed restarted) shows as a seq gap, answered with a fresh snapshot.
 */
@Injectable()
export class AccountEventsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AccountEventsConsumer.name);
  private consumer: Consumer | null = null;
  private stopped = false;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    private readonly hub: StreamHub,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  onApplicationBootstrap(): void {
    void this.start();
  }

  private async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: `api-gateway-account-events-${randomUUID()}`,
      retry: FEED_RETRY,
      ...fetchOptions(this.config),
    } satisfies PatchedConsumerConfig as ConsumerConfig);
    this.consumer = consumer;
    // The first fetch after each join has resolved the partitions' end offsets: from there on
    // nothing is skipped (after a rejoin the hub resynchronises the subscriptions).
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
    consumer.on(consumer.events.FETCH, () => {
      if (!joined) return;
      joined = false;
      this.hub.accountFeedStarted();
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: TOPICS.accountEvents.name, fromBeginning: false });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          const accountId = message.key?.toString();
          if (!accountId || !this.hub.hasAccountListeners(accountId) || !message.value) return;
          let event: { seq?: unknown; data?: unknown };
          try {
            event = JSON.parse(message.value.toString()) as { seq?: unknown; data?: unknown };
          } catch {
            this.logger.warn(`malformed account event of ${accountId} dropped`);
            return;
          }
          if (typeof event.seq !== 'number' || !Number.isSafeInteger(event.seq) || event.seq < 1) return;
          this.hub.deliver(accountId, {
            channel: redisKeys.orderChannel(accountId),
            seq: event.seq,
            data: event.data,
          });
          return Promise.resolve();
        },
      });
    } catch (err) {
      if (this.stopped) return;
      this.logger.error(`account feed failed: ${(err as Error).message}; retrying`);
      await consumer.disconnect().catch(() => undefined);
      setTimeout(() => void this.start(), 2000).unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
