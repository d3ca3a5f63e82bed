import { z } from 'zod';

/** Value of `platform.dead-letter.v1`: the rejected record, where it came from and why. */
export const deadLetterSchema = z.object({
  sourceTopic: z.string(),
  sourcePartition: z.number().int().nonnegative(),
  sourceOffset: z.string(),
  key: z.string().nullable(),
  value: z.string().nullable(),
  reason: z.string(),
  consumerGroup: z.string(),
  at: z.string(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;
