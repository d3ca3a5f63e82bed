import { z } from 'zod';
import { CANDLE_INTERVALS, type CandleInterval } from '@trading/db';

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

export const depthQuerySchema = z.strictObject({
  levels: z.coerce.number().int().min(1).max(100).default(20),
});
export const tradesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export const candlesQuerySchema = z.strictObject({
  interval: z.enum(Object.keys(CANDLE_INTERVALS) as [CandleInterval, ...CandleInterval[]]).default('1m'),
  from: instant.optional(),
  to: instant.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});
