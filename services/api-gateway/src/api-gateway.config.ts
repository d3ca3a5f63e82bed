import { type z } from 'zod';
import { baseSchema, kafkaSchema, databaseSchema, redisSchema } from '@trading/config';

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const ApiGatewayConfigSchema = baseSchema
  .extend(kafkaSchema.shape)
  .extend(databaseSchema.shape)
  .extend(redisSchema.shape);
export type ApiGatewayConfig = z.infer<typeof ApiGatewayConfigSchema>;
