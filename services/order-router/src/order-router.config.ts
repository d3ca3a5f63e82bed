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
    // Batches (of different partitions) written in one database transaction at most: batches that
    // are ready while a commit is in flight go together in the next one (group commit). 1 writes
    // every batch on its own.
    // Open orders kept in memory per partition (the rest are read from the database when a cancel,
    // amend or execution update needs them). 0 reads every one.
    ORDER_ROUTER_OPEN_ORDERS_CACHED: z.coerce.number().int().min(0).default(100_000),
    ORDER_ROUTER_GROUP_COMMIT_MAX: z.coerce.number().int().min(1).max(1024).default(64),
    // Group commits in flight at once: partition p commits through lane p % lanes, so up to this
    // many database transactions of different partitions run in parallel.
    ORDER_ROUTER_COMMIT_LANES: z.coerce.number().int().min(1).max(64).default(1),
  });
export type OrderRouterConfig = z.infer<typeof OrderRouterConfigSchema>;
