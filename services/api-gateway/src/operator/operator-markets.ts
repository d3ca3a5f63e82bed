import {
  fromSteps,
  parseDecimal,
  symbolSchema,
  toMarketSpec,
  toSteps,
  type MarketRow,
  type MarketSpec,
} from '@trading/contracts';
import type { MarketRules } from '@trading/db';
import { z } from 'zod';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';

// The operator's markets (POST /v1/operator/markets, PATCH /v1/operator/markets/:symbol). Rules
// travel in the decimal-string forms GET /v1/markets answers (tickSize, lotSize, minQuantity,
// minNotional, priceBandMin, priceBandMax) and are stored exact; every service reads them
// through its market catalog (reloaded every 2 s) and works in integer ticks and lots.

const positiveDecimal = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,19})(\.[0-9]{1,18})?$/, 'must be a decimal string (up to 20 digits . 18 digits)');
const assetCode = z.string().regex(/^[A-Z0-9]{2,12}$/, 'must be 2-12 characters of [A-Z0-9]');
const fee = z.number().int().min(0).max(1000);
const decimals = z.number().int().min(0).max(18);
const status = z.enum(['trading', 'halted']);

const changeable = {
  tickSize: positiveDecimal,
  lotSize: positiveDecimal,
  minQuantity: positiveDecimal,
  minNotional: positiveDecimal,
  priceBandMin: positiveDecimal.nullable(),
  priceBandMax: positiveDecimal.nullable(),
  makerFeeBps: fee,
  takerFeeBps: fee,
  status,
};

export const createMarketSchema = z.strictObject({
  symbol: symbolSchema,
  baseAsset: assetCode,
  quoteAsset: assetCode,
  /** Needed only when the asset is not listed yet (it is listed with these decimals). */
  baseDecimals: decimals.optional(),
  quoteDecimals: decimals.optional(),
  tickSize: changeable.tickSize,
  lotSize: changeable.lotSize,
  minQuantity: changeable.minQuantity.optional(),
  minNotional: changeable.minNotional.optional(),
  priceBandMin: changeable.priceBandMin.optional(),
  priceBandMax: changeable.priceBandMax.optional(),
  makerFeeBps: fee.optional(),
  takerFeeBps: fee.optional(),
  status: status.optional(),
});
export type CreateMarketBody = z.infer<typeof createMarketSchema>;

export const patchMarketSchema = z
  .strictObject({
    tickSize: changeable.tickSize.optional(),
    lotSize: changeable.lotSize.optional(),
    minQuantity: changeable.minQuantity.optional(),
    minNotional: changeable.minNotional.optional(),
    priceBandMin: changeable.priceBandMin.optional(),
    priceBandMax: changeable.priceBandMax.optional(),
    makerFeeBps: fee.optional(),
    takerFeeBps: fee.optional(),
    status: status.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'give at least one rule to change');
export type PatchMarketBody = z.infer<typeof patchMarketSchema>;

export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

const invalid = (field: string, message: string) =>
  new GatewayException(ErrorCode.VALIDATION_FAILED, `${field}: ${message}`, field);

const isZero = (d: string) => parseDecimal(d, 18) === 0n;

/** The market a create or a patch would leave, as the catalog will read it; 400 naming the field. */
export function checkedMarket(row: MarketRow, minQuantity: string): { spec: MarketSpec; rules: MarketRules } {
  if (isZero(row.tickSize)) throw invalid('tickSize', 'must be positive');
  if (isZero(row.lotSize)) throw invalid('lotSize', 'must be positive');
  const minQty = toSteps(minQuantity, row.lotSize);
  if (!minQty.ok) throw invalid('minQuantity', `must be a positive multiple of lotSize ${row.lotSize}`);
  for (const field of ['priceBandMin', 'priceBandMax'] as const) {
    const bound = row[field];
    if (bound != null && !toSteps(bound, row.tickSize).ok)
      throw invalid(field, `must be a positive multiple of tickSize ${row.tickSize} (or null: no bound)`);
  }
  if (
    row.priceBandMin != null &&
    row.priceBandMax != null &&
    toSteps(row.priceBandMin, row.tickSize).ok &&
    parseDecimal(row.priceBandMin, 18)! > parseDecimal(row.priceBandMax, 18)!
  )
    throw invalid('priceBandMax', 'must not be below priceBandMin');
  const full: MarketRow = { ...row, minQtyLots: minQty.steps };
  let spec: MarketSpec;
  try {
    spec = toMarketSpec(full);
  } catch (err) {
    const message = (err as Error).message;
    throw invalid(/lot size/.test(message) ? 'lotSize' : 'tickSize', message);
  }
  return {
    spec,
    rules: {
      tickSize: full.tickSize,
      lotSize: full.lotSize,
      minQtyLots: minQty.steps,
      minNotional: full.minNotional,
      priceBandMin: full.priceBandMin ?? null,
      priceBandMax: full.priceBandMax ?? null,
      makerFeeBps: full.makerFeeBps,
      takerFeeBps: full.takerFeeBps,
      status: full.status,
    },
  };
}

/** `value` rounded up to a whole number of `step`s (at least one), as a decimal string. */
export function roundUpTo(value: string, step: string): string {
  const v = parseDecimal(value, 18);
  const s = parseDecimal(step, 18);
  if (v === null || s === null || s === 0n) return value;
  const steps = v <= 0n ? 1n : (v + s - 1n) / s;
  return fromSteps(steps, stripTrailingZeros(step));
}

function stripTrailingZeros(d: string): string {
  return d.includes('.') ? d.replace(/0+$/, '').replace(/\.$/, '') : d;
}

/** Whether two decimal strings are the same number. */
export function sameDecimal(a: string, b: string): boolean {
  return parseDecimal(a, 18) === parseDecimal(b, 18);
}
