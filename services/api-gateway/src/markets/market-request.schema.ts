import { z } from 'zod';
import { CANDLE_INTERVALS, type CandleInterval } from '@trading/db';
import { queryInteger } from '../common/edge-input';

// ms epoch digits or an ISO-8601 date.
const instant = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const ms = /^[0-9]{1,15}$/.test(v) ? Number(v) : Date.parse(v);
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be epoch milliseconds or an ISO-8601 date' });
      return z.NEVER;
    }
    return new Date(ms);
  });

/** The most levels a side a depth snapshot can hold (the matching-worker's DEPTH_LEVELS maximum). */
export const MAX_DEPTH_LEVELS = 100;

/** `levels` 1..published (default: all published), `published` being the gateway's DEPTH_LEVELS. */
export function depthQuerySchema(published: number) {
  return z.strictObject({ levels: queryInteger(1, published, published) });
}
export const tradesLimit = { min: 1, max: 500, default: 100 } as const;
export const candlesLimit = { min: 1, max: 1000, default: 500 } as const;
export const tradesQuerySchema = z.strictObject({
  limit: queryInteger(tradesLimit.min, tradesLimit.max, tradesLimit.default),
});
export const candlesQuerySchema = z.strictObject({
  interval: z.enum(Object.keys(CANDLE_INTERVALS) as [CandleInterval, ...CandleInterval[]]).default('1m'),
  from: instant.optional(),
  to: instant.optional(),
  limit: queryInteger(candlesLimit.min, candlesLimit.max, candlesLimit.default),
});
