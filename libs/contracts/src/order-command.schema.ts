import { z } from 'zod';
import {
  epochMs,
  idSchema,
  nonNegativeInt,
  orderTypeSchema,
  positiveInt,
  sideSchema,
  stpSchema,
  symbolSchema,
  tifSchema,
} from './common.schema';

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

// Operator money movements travel the same per-account stream, so the router that owns an
// account's balance sees them in order with its orders.
const assetSchema = z.string().regex(/^[A-Z0-9]{2,12}$/);
const moneyBase = {
  commandId: idSchema,
  accountId: idSchema,
  asset: assetSchema,
  amount: positiveInt,
  receivedAt: epochMs,
};
export const depositCommandSchema = z.object({ ...moneyBase, kind: z.literal('deposit') });
export const withdrawCommandSchema = z.object({ ...moneyBase, kind: z.literal('withdraw') });

export const orderCommandSchema = z.discriminatedUnion('kind', [
  placeOrderCommandSchema,
  cancelOrderCommandSchema,
  amendOrderCommandSchema,
  depositCommandSchema,
  withdrawCommandSchema,
]);
export type DepositCommand = z.infer<typeof depositCommandSchema>;
export type WithdrawCommand = z.infer<typeof withdrawCommandSchema>;
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
    z.object({
      type: z.literal('amend'),
      orderId: idSchema,
      price: positiveInt.optional(),
      qty: positiveInt.optional(),
    }),
  ]),
  /**
   * Where the router read the command: matching skips a (partition, offset) it has already
   * applied, so a router that re-sends after a crash never places an order twice.
   */
  source: z.object({ partition: nonNegativeInt, offset: nonNegativeInt }),
});
export type SequencedCommand = z.infer<typeof sequencedCommandSchema>;

/**
 * An operator commandId names one money movement. Its ledger entry is keyed `<kind>:<commandId>`;
 * both keys are looked up, so the same id can be neither a deposit and a withdrawal nor two
 * amounts (the ledger would skip the second as a replay of the first).
 */
export const moneyLedgerKey = (kind: 'deposit' | 'withdraw', commandId: string): string =>
  `${kind}:${commandId}`;
export const moneyLedgerKeys = (commandId: string): string[] => [
  moneyLedgerKey('deposit', commandId),
  moneyLedgerKey('withdraw', commandId),
];

/** Whether a stored ledger entry is this very movement: kind, account, asset and amount. */
export function isSameMoneyMovement(
  entry: { key: string; accountId: string; asset: string; availableDelta: bigint },
  cmd: {
    kind: 'deposit' | 'withdraw';
    commandId: string;
    accountId: string;
    asset: string;
    amount: number | bigint;
  },
): boolean {
  const amount = entry.availableDelta < 0n ? -entry.availableDelta : entry.availableDelta;
  return (
    entry.key === moneyLedgerKey(cmd.kind, cmd.commandId) &&
    entry.accountId === cmd.accountId &&
    entry.asset === cmd.asset &&
    amount === BigInt(cmd.amount)
  );
}
