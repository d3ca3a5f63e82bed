import { z } from 'zod';
import {
  FINAL_ORDER_STATUSES,
  idSchema,
  ORDER_STATUSES,
  orderTypeSchema,
  sideSchema,
  stpSchema,
  symbolSchema,
  tifSchema,
} from '@trading/contracts';
import { queryInteger } from '../common/edge-input';

// Decimals travel as strings; their content (format, tick, lot) is checked against the market
// afterwards so each failure gets its own code. The length cap keeps hostile input cheap.
const decimal = z.string().max(48, 'too long');

// The statuses are @trading/contracts' (ORDER_STATUSES, FINAL_ORDER_STATUSES).
export const FINAL_STATUSES: ReadonlySet<string> = new Set(FINAL_ORDER_STATUSES);

/** Body of POST /v1/orders. Strict: an unknown key is refused, naming it. */
export const placeOrderRequestSchema = z.strictObject({
  symbol: z.string().max(32),
  side: sideSchema,
  type: orderTypeSchema,
  quantity: decimal,
  price: decimal.optional(),
  timeInForce: tifSchema.optional(),
  postOnly: z.boolean().optional(),
  stopPrice: decimal.optional(),
  displayQuantity: decimal.optional(),
  clientOrderId: idSchema.optional(),
  stpMode: stpSchema.optional(),
  protectionPrice: decimal.optional(),
  quoteBudget: decimal.optional(),
});
export type PlaceOrderRequest = z.infer<typeof placeOrderRequestSchema>;

/** Body of PATCH /v1/orders/:id. */
export const amendOrderRequestSchema = z
  .strictObject({ price: decimal.optional(), quantity: decimal.optional() })
  .refine((v) => v.price !== undefined || v.quantity !== undefined, {
    message: 'price or quantity is required',
  });
export type AmendOrderRequest = z.infer<typeof amendOrderRequestSchema>;

// A cursor is checked by the service (decodeCursor, the fills repository): any cursor this API did
// not return, however malformed, is 400 INVALID_CURSOR.
export const listOrdersQuerySchema = z.strictObject({
  symbol: symbolSchema.optional(),
  status: z.enum(ORDER_STATUSES).optional(),
  limit: queryInteger(1, 500, 50),
  cursor: z.string().optional(),
});

export const listFillsQuerySchema = z.strictObject({
  symbol: symbolSchema.optional(),
  limit: queryInteger(1, 500, 50),
  cursor: z.string().optional(),
});

/** Order ids are the gateway's UUIDs; anything else cannot exist. */
export const orderIdParamSchema = idSchema;
