import { z } from 'zod';
import { baseSchema, databaseSchema, kafkaSchema, redisSchema } from '@trading/config';

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const OrderRouterConfigSchema = baseSchema
  .extend(kafkaSchema.shape)
  .extend(databaseSchema.shape)
  .extend(redisSchema.shape)
  .extend({
    ORDER_ROUTER_GROUP_ID: z.string().min(1).default('order-router'),
  });
export type OrderRouterConfig = z.infer<typeof OrderRouterConfigSchema>;
