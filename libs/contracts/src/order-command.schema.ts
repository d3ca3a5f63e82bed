import { z } from 'zod';
import { epochMs, idSchema, nonNegativeInt, orderTypeSchema, positiveInt, sideSchema, stpSchema, symbolSchema, tifSchema } from './common.schema';

// orders.commands.v1, keyed by accountId: what the gateway accepted, already in ticks and lots.
const base = {
  commandId: idSchema,
  accountId: idSchema,
  orderId: idSchema,
  symbol: symbolSchema,
  /** Gateway receipt time, carried to the end of the pipeline for end-to-end latency. */
  receivedAt: epochMs,
};

export const placeOrderCommandSchema = z.object({
  ...base,
  kind: z.literal('place'),
  side: sideSchema,
  orderType: orderTypeSchema,
  qty: positiveInt,
  price: positiveInt.optional(),
  tif: tifSchema.default('GTC'),
  postOnly: z.boolean().default(false),
  displayQty: positiveInt.optional(),
  stopPrice: positiveInt.optional(),
  protectionPrice: positiveInt.optional(),
  quoteBudget: positiveInt.optional(),
  stp: stpSchema.default('none'),
  clientOrderId: idSchema.optional(),
});

export const cancelOrderCommandSchema = z.object({ ...base, kind: z.literal('cancel') });

export const amendOrderCommandSchema = z.object({
  ...base,
  kind: z.literal('amend'),
  price: positiveInt.optional(),
  qty: positiveInt.optional(),
});

export const orderCommandSchema = z.discriminatedUnion('kind', [placeOrderCommandSchema, cancelOrderCommandSchema, amendOrderCommandSchema]);
export type PlaceOrderCommand = z.infer<typeof placeOrderCommandSchema>;
export type CancelOrderCommand = z.infer<typeof cancelOrderCommandSchema>;
export type AmendOrderCommand = z.infer<typeof amendOrderCommandSchema>;
export type OrderCommand = z.infer<typeof orderCommandSchema>;

// orders.sequenced.v1, keyed by symbol: the command after the router's checks and reservation,
// in the engine's own command shape plus routing metadata.
export const sequencedCommandSchema = z.object({
  symbol: symbolSchema,
  accountId: idSchema,
  receivedAt: epochMs,
  routedAt: epochMs,
  command: z.discriminatedUnion('type', [
    z.object({
      type: z.literal('new'),
      orderId: idSchema,
      accountId: idSchema,
      side: sideSchema,
      orderType: orderTypeSchema,
      qty: positiveInt,
      price: positiveInt.optional(),
      tif: tifSchema.optional(),
      postOnly: z.boolean().optional(),
      displayQty: positiveInt.optional(),
      stopPrice: positiveInt.optional(),
      protectionPrice: positiveInt.optional(),
      quoteBudget: positiveInt.optional(),
      stp: stpSchema.optional(),
    }),
    z.object({ type: z.literal('cancel'), orderId: idSchema }),
    z.object({ type: z.literal('amend'), orderId: idSchema, price: positiveInt.optional(), qty: positiveInt.optional() }),
  ]),
  /** Hold reserved by the router for a new order, in the hold asset's smallest unit (0 = none). */
  hold: nonNegativeInt.default(0),
});
export type SequencedCommand = z.infer<typeof sequencedCommandSchema>;
