import { formatDecimal } from '@trading/contracts';

export interface BalanceView {
  asset: string;
  available: string;
  held: string;
}

export interface LedgerView {
  id: string;
  asset: string;
  availableDelta: string;
  heldDelta: string;
  kind: string;
  ref: string;
  time: string;
}

/** Integers of the asset's smallest unit to the decimal strings clients see. */
export function toDecimal(units: bigint, decimals: number): string {
  return formatDecimal(units, decimals);
}
