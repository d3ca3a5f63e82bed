import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';

/** The zod schema the handler validates with, as the OpenAPI schema of the same body. */
export function jsonSchema(schema: z.ZodType): SchemaObject {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest as SchemaObject;
}

export const ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string', description: 'the field, parameter or key that is wrong' },
        dependency: { type: 'string', enum: ['kafka', 'database', 'redis'] },
        orderId: { type: 'string', description: 'a 503 after sending: the order whose fate is unknown' },
      },
      required: ['code', 'message'],
      additionalProperties: false,
    },
  },
  required: ['error'],
  additionalProperties: false,
};

/** Name of the security scheme documenting the three signature headers. */
export const SIGNED = 'signed';

/** Name of the security scheme documenting Binance's X-MBX-APIKEY (with signature parameters). */
export const BINANCE_SIGNED = 'binance-signed';
