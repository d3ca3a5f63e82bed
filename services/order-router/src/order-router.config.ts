import { z } from 'zod';
import { baseSchema, databaseSchema, kafkaSchema, redisSchema } from '@trading/config';

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const OrderRouterConfigSchema = baseSchema
  .extend(kafkaSchema.shape)
  .extend(databaseSchema.shape)
  .extend(redisSchema.shape)
  .extend({
    ORDER_ROUTER_GROUP_ID: z.string().min(1).default('order-router'),
    // Partition batches handled at once (commands and updates of one partition still take turns:
    // they share its balances). Below the partition count, a fetch's batches queue behind each
    // other's database transactions and a command waits for the slowest settlement batch.
    ORDER_ROUTER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(12),
  });
export type OrderRouterConfig = z.infer<typeof OrderRouterConfigSchema>;
