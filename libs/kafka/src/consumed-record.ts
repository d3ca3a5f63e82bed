import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { z } from 'zod';

/** A consumed record that passed its contract, as a partition batch's handler gets it. */
export interface ConsumedRecord<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
  headers: IHeaders;
  timestamp: string;
}

export interface ConsumerMetrics {
  observeBatch(topic: string, partition: number, size: number, lag: number): void;
  deadLettered(topic: string, reason: string): void;
  /** A batch failed and is retried after a backoff. */
  retried?(topic: string): void;
}

export interface DeadLetterSink {
  deadLetter(record: {
    topic: string;
    partition: number;
    offset: string;
    key: string | null;
    value: string | null;
    reason: string;
  }): Promise<void>;
}

/** Decodes and validates one message; returns the reason when it is not a valid record. */
export function decodeMessage<T>(
  schema: z.ZodType<T>,
  message: KafkaMessage,
): { ok: true; value: T } | { ok: false; reason: string } {
  if (!message.value) return { ok: false, reason: 'empty value' };
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString('utf8'));
  } catch {
    return { ok: false, reason: 'value is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      reason: parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')
        .slice(0, 1000),
    };
  }
  return { ok: true, value: parsed.data };
}
