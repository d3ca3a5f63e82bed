import { type z } from 'zod';
import { baseSchema, kafkaSchema, databaseSchema } from '@trading/config';

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const OrderRouterConfigSchema = baseSchema.extend(kafkaSchema.shape).extend(databaseSchema.shape);
export type OrderRouterConfig = z.infer<typeof OrderRouterConfigSchema>;
