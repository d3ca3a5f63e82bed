import { type z } from 'zod';
import { baseSchema, kafkaSchema } from '@trading/config';

// Parsed once at boot; every key may also come from KEY_FILE (Swarm secrets).
export const MatchingWorkerConfigSchema = baseSchema.extend(kafkaSchema.shape);
export type MatchingWorkerConfig = z.infer<typeof MatchingWorkerConfigSchema>;
