import { z } from 'zod';
import { baseSchema, databaseSchema, kafkaSchema } from '@trading/config';

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const MatchingWorkerConfigSchema = baseSchema
  .extend(kafkaSchema.shape)
  .extend(databaseSchema.shape)
  .extend({
    MATCHING_GROUP_ID: z.string().min(1).default('matching-worker'),
    // A snapshot bounds the replay after a crash or a rebalance.
    SNAPSHOT_EVERY_COMMANDS: z.coerce.number().int().positive().default(20_000),
    SNAPSHOT_INTERVAL_MS: z.coerce.number().int().positive().default(30_000),
    DEPTH_LEVELS: z.coerce.number().int().min(1).max(100).default(20),
  });
export type MatchingWorkerConfig = z.infer<typeof MatchingWorkerConfigSchema>;
