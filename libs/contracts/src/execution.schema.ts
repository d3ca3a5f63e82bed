import { z } from 'zod';
import {
  epochMs,
  idSchema,
  nonNegativeInt,
  orderTypeSchema,
  positiveInt,
  sideSchema,
  symbolSchema,
} from './common.schema';

// The matching engine's events as they travel on Kafka. Mirrors libs/matching-engine's
// EngineEvent (contracts depend on nothing, so the shape is restated and checked by a test).
const seq = positiveInt;
const accountId = z.string().max(64);
export const engineEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('accepted'),
    seq,
    orderId: idSchema,
    accountId,
    side: sideSchema,
    orderType: orderTypeSchema,
    price: nonNegativeInt,
    qty: positiveInt,
  }),
  z.object({
    type: z.literal('rejected'),
    seq,
    command: z.enum(['new', 'cancel', 'amend', 'unknown']),
    orderId: z.string().max(64),
    accountId,
    reason: z.string().max(64),
  }),
  z.object({
    type: z.literal('rested'),
    seq,
    orderId: idSchema,
    accountId,
    side: sideSchema,
    price: positiveInt,
    remainingQty: positiveInt,
    visibleQty: nonNegativeInt,
  }),
  z.object({
    type: z.literal('trade'),
    seq,
    price: positiveInt,
    qty: positiveInt,
    makerOrderId: idSchema,
    takerOrderId: idSchema,
    makerAccountId: accountId,
    takerAccountId: accountId,
    takerSide: sideSchema,
    makerRemainingQty: nonNegativeInt,
    takerRemainingQty: nonNegativeInt,
  }),
  z.object({
    type: z.literal('cancelled'),
    seq,
    orderId: idSchema,
    accountId,
    remainingQty: nonNegativeInt,
    reason: z.string().max(64),
  }),
  z.object({
    type: z.literal('amended'),
    seq,
    orderId: idSchema,
    accountId,
    price: nonNegativeInt,
    qty: positiveInt,
    remainingQty: nonNegativeInt,
    keptPriority: z.boolean(),
  }),
  z.object({
    type: z.literal('expired'),
    seq,
    orderId: idSchema,
    accountId,
    remainingQty: nonNegativeInt,
    reason: z.string().max(64),
  }),
  z.object({
    type: z.literal('triggered'),
    seq,
    orderId: idSchema,
    accountId,
    stopPrice: positiveInt,
    lastPrice: positiveInt,
  }),
]);
export type EngineEventMessage = z.infer<typeof engineEventSchema>;

const depthLevel = z.tuple([positiveInt, nonNegativeInt, nonNegativeInt]); // price ticks, visible lots, orders

// executions.v1, keyed by symbol: every event one sequenced command produced, in seq order.
// (inputPartition, inputOffset) identify the command; seq numbers are gap-free per symbol.
export const executionSchema = z.object({
  symbol: symbolSchema,
  inputPartition: nonNegativeInt,
  inputOffset: nonNegativeInt,
  receivedAt: epochMs,
  emittedAt: epochMs,
  events: z.array(engineEventSchema).min(1),
  /** Top of book after this command; present on the last record of a symbol in each batch. */
  depth: z.object({ seq: positiveInt, bids: z.array(depthLevel), asks: z.array(depthLevel) }).optional(),
});
export type Execution = z.infer<typeof executionSchema>;

// One order side of one engine event (a trade gives one for the maker and one for the taker).
// Carried in batches on orders.updates.v2 (below), partitioned by accountId, so the router that
// owns the account's commands also owns its order state and settlement.
export const orderUpdateSchema = z.object({
  accountId: idSchema,
  orderId: idSchema,
  symbol: symbolSchema,
  /** Engine seq of the event; (symbol, seq, orderId) is unique. */
  seq: positiveInt,
  receivedAt: epochMs,
  emittedAt: epochMs,
  event: engineEventSchema,
});
export type OrderUpdate = z.infer<typeof orderUpdateSchema>;

// orders.updates.v2: the updates of one matching transaction (one input partition batch) whose
// accounts map to the same partition, in engine order. The record's partition is
// partitionFor(accountId) of every update in it; its key is the first update's accountId (so
// the key hashes to the record's partition too). A large batch is split over consecutive records.
export const orderUpdateBatchSchema = z.object({
  updates: z.array(orderUpdateSchema).min(1),
});
export type OrderUpdateBatch = z.infer<typeof orderUpdateBatchSchema>;
