import { z } from 'zod';
import { baseSchema, kafkaSchema, databaseSchema, redisSchema } from '@trading/config';

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const MarketDataConfigSchema = baseSchema
  .extend(kafkaSchema.shape)
  .extend(databaseSchema.shape)
  .extend(redisSchema.shape)
  .extend({
    // Tests run their own group so they never steal partitions from a running service.
    MARKET_DATA_GROUP_ID: z.string().min(1).default('market-data'),
    // Where a group without committed offsets starts: the whole topic (default) or its end.
    MARKET_DATA_FROM_BEGINNING: bool.default(true),
    // The 24 h ticker is a SQL aggregate: at most one per symbol per this many ms.
    MARKET_DATA_TICKER_THROTTLE_MS: z.coerce.number().int().min(0).default(250),
    MARKET_DATA_RECENT_TRADES: z.coerce.number().int().min(1).max(1000).default(100),
  });
export type MarketDataConfig = z.infer<typeof MarketDataConfigSchema>;
