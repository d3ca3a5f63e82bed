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

export const depthQuerySchema = z.strictObject({
  levels: queryInteger(1, 100, 20),
});
export const tradesQuerySchema = z.strictObject({
  limit: queryInteger(1, 500, 100),
});
export const candlesQuerySchema = z.strictObject({
  interval: z.enum(Object.keys(CANDLE_INTERVALS) as [CandleInterval, ...CandleInterval[]]).default('1m'),
  from: instant.optional(),
  to: instant.optional(),
  limit: queryInteger(1, 1000, 500),
});
