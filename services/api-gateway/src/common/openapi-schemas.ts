import { applyDecorators } from '@nestjs/common';
import { ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import {
  ORDER_STATUSES,
  ORDER_TYPES,
  publicTradeSchema,
  SIDES,
  tickerSchema,
  TIMES_IN_FORCE,
} from '@trading/contracts';
import { z } from 'zod';
import { ERROR_SCHEMA, jsonSchema } from './openapi';

// What /v1 answers, as zod schemas turned into the OpenAPI document's response schemas (JSON
// Schema 2020-12, as OpenAPI 3.1 takes it). The integration suites validate every /v1 response
// they receive against these (scripts/testing/openapi-check.ts), so a view that changes without
// its schema fails there.

const decimal = z.string().describe('decimal string');
const nullableDecimal = decimal.nullable();
const isoTime = z.string().describe('ISO-8601 time');

export const orderAckSchema = z.strictObject({
  orderId: z.string(),
  clientOrderId: z.string().nullable(),
  status: z.enum(['pending', 'cancel_requested', 'amend_requested']),
});

export const orderViewSchema = z.strictObject({
  orderId: z.string(),
  clientOrderId: z.string().nullable(),
  symbol: z.string(),
  side: z.enum(SIDES),
  type: z.enum(ORDER_TYPES),
  timeInForce: z.enum(TIMES_IN_FORCE),
  postOnly: z.boolean(),
  price: nullableDecimal,
  stopPrice: nullableDecimal,
  displayQuantity: nullableDecimal,
  quantity: decimal,
  filledQuantity: decimal,
  averagePrice: nullableDecimal,
  status: z.enum(ORDER_STATUSES),
  reason: z.string().nullable(),
  receivedAt: isoTime,
  createdAt: isoTime,
  updatedAt: isoTime,
});

export const fillViewSchema = z.strictObject({
  tradeId: z.string(),
  orderId: z.string(),
  symbol: z.string(),
  side: z.enum(['buy', 'sell']),
  liquidity: z.enum(['maker', 'taker']),
  price: decimal,
  quantity: decimal,
  time: isoTime,
});

export const balanceViewSchema = z.strictObject({ asset: z.string(), available: decimal, held: decimal });

export const ledgerViewSchema = z.strictObject({
  id: z.string(),
  asset: z.string(),
  availableDelta: z.string().describe('signed decimal string'),
  heldDelta: z.string().describe('signed decimal string'),
  kind: z.enum(['deposit', 'withdrawal', 'hold', 'release', 'trade', 'fee']),
  ref: z.string(),
  time: isoTime,
});

export const marketViewSchema = z.strictObject({
  symbol: z.string(),
  baseAsset: z.string(),
  quoteAsset: z.string(),
  status: z.string(),
  tickSize: decimal,
  lotSize: decimal,
  minQuantity: decimal,
  minNotional: decimal,
  makerFeeBps: z.number().int(),
  takerFeeBps: z.number().int(),
  priceBandMin: nullableDecimal.describe('lowest limit price accepted (PRICE_OUT_OF_BAND below); null: none'),
  priceBandMax: nullableDecimal.describe(
    'highest limit price accepted (PRICE_OUT_OF_BAND above); null: none',
  ),
});

const level = z
  .tuple([decimal, decimal, z.number().int().nonnegative()])
  .describe('[price, quantity, orders]');
export const depthViewSchema = z.strictObject({
  symbol: z.string(),
  seq: z.number().int().nonnegative().describe('channel seq of depth:<symbol> (0: no book yet)'),
  engineSeq: z.number().int().nonnegative(),
  bids: z.array(level),
  asks: z.array(level),
  time: z.number().int().nonnegative().nullable().describe('ms epoch of the book; null without one'),
});

export const tradesViewSchema = z.strictObject({
  symbol: z.string(),
  seq: z.number().int().nonnegative(),
  data: z.array(publicTradeSchema).describe('newest first'),
});

export const tickerViewSchema = z.strictObject({
  symbol: z.string(),
  seq: z.number().int().nonnegative(),
  data: tickerSchema.nullable().describe('null before the first trade'),
});

export const candlesViewSchema = z.strictObject({
  symbol: z.string(),
  interval: z.enum(['1m', '5m', '1h', '1d']),
  data: z.array(
    z.strictObject({
      time: isoTime,
      open: decimal,
      high: decimal,
      low: decimal,
      close: decimal,
      volume: decimal,
      trades: z.number().int().nonnegative(),
    }),
  ),
});

export const issuedKeySchema = z.strictObject({
  accountId: z.string(),
  apiKey: z.string(),
  secret: z.string().describe('shown once'),
});
export const moneyAckSchema = z.strictObject({ commandId: z.string(), status: z.literal('accepted') });
export const feesViewSchema = z.strictObject({
  symbol: z.string(),
  makerFeeBps: z.number().int(),
  takerFeeBps: z.number().int(),
});

/** `{data, nextCursor}`: every paged list. */
export function pageSchema(item: z.ZodType) {
  return z.strictObject({
    data: z.array(item),
    nextCursor: z.string().nullable().describe('pass as cursor for the next (older) page; null at the end'),
  });
}

/** A success answer with its JSON body. */
export function ApiAnswer(status: number, schema: z.ZodType, description: string) {
  return ApiResponse({ status, description, schema: jsonSchema(schema) });
}

/** Error answers of one route, each `{error:{code, message, field?}}`; `codes` says which. */
export function ApiErrors(...errors: [status: number, codes: string][]) {
  return applyDecorators(
    ...errors.map(([status, description]) => ApiResponse({ status, description, schema: ERROR_SCHEMA })),
  );
}

/** A decimal-integer query parameter (`limit`, `levels`): digits only, 400 naming it otherwise. */
export function ApiIntegerQuery(
  name: string,
  range: { min: number; max: number; default: number },
  what: string,
) {
  return ApiQuery({
    name,
    required: false,
    description: `${what}: a decimal integer ${range.min}..${range.max}, default ${range.default} (0x10, 1e2, 16.0 are 400 naming ${name})`,
    schema: {
      type: 'integer',
      minimum: range.min,
      maximum: range.max,
      default: range.default,
    } as SchemaObject,
  });
}

/** An optional text query parameter. */
export function ApiTextQuery(name: string, description: string, schema: SchemaObject = { type: 'string' }) {
  return ApiQuery({ name, required: false, description, schema });
}
