import { Injectable } from '@nestjs/common';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { ORDER_ACK_DURATION_BUCKETS_SECONDS, MetricsRegistry } from '@trading/metrics';
import { ErrorCode } from '../errors/gateway.exception';

// Label values are the ErrorCode enum: a bounded set, never user text.
const REASONS: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** The gateway's own series; everything else comes from the shared registry. */
@Injectable()
export class GatewayMetrics {
  readonly ordersReceived: Counter;
  readonly ordersAccepted: Counter;
  readonly ordersRejected: Counter<'reason'>;
  /** Requests refused before any work: in-flight bound or rate limits. */
  readonly shed: Counter<'reason'>;
  /** Receipt of POST /v1/orders to Kafka's acknowledgement of its command. */
  readonly orderAckDuration: Histogram;
  /**
   * How a cancel or amend found its order: `redis` answered from the accepted-order record alone,
   * `database` queried PostgreSQL (whatever the answer).
   */
  readonly orderLookups: Counter<'command' | 'source'>;
  readonly wsConnections: Gauge;
  readonly wsSubscriptions: Gauge;

  constructor(metrics: MetricsRegistry) {
    this.ordersReceived = metrics.counter('orders_received_total', 'Order placements received');
    this.ordersAccepted = metrics.counter(
      'orders_accepted_total',
      'Order placements acknowledged by Kafka (202)',
    );
    this.ordersRejected = metrics.counter(
      'orders_rejected_total',
      'Order placements refused, by error code',
      ['reason'],
    );
    this.shed = metrics.counter(
      'gateway_requests_shed_total',
      'Requests refused by load shedding or rate limits',
      ['reason'],
    );
    this.orderAckDuration = metrics.histogram(
      'gateway_order_ack_duration_seconds',
      'Order receipt to Kafka acknowledgement of its command',
      ORDER_ACK_DURATION_BUCKETS_SECONDS,
    );
    this.orderLookups = metrics.counter(
      'gateway_order_lookup_total',
      'Cancel and amend order lookups, by command and by source (redis: accepted-order record only; database: PostgreSQL queried)',
      ['command', 'source'],
    );
    this.wsConnections = metrics.gauge('ws_connections', 'Open WebSocket connections');
    this.wsSubscriptions = metrics.gauge('ws_subscriptions', 'Active WebSocket channel subscriptions');
  }

  rejected(code: string): void {
    this.ordersRejected.inc({ reason: REASONS.has(code) ? code : ErrorCode.INTERNAL_ERROR });
  }
}
