import { z } from 'zod';

/** `BASE-QUOTE`, upper case. */
export const symbolSchema = z.string().regex(/^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$/, 'must look like BASE-QUOTE');
/** Ids are opaque strings: UUIDs from the gateway, or operator-chosen account ids. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_.:-]');
/** Money and quantities travel as JSON integers: ticks, lots, smallest units. Never floats. */
export const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const nonNegativeInt = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const sideSchema = z.enum(['buy', 'sell']);
export const orderTypeSchema = z.enum(['limit', 'market', 'stop-limit', 'stop-market']);
export const tifSchema = z.enum(['GTC', 'IOC', 'FOK']);
export const stpSchema = z.enum(['none', 'cancel-taker', 'cancel-maker', 'cancel-both']);
/** Epoch milliseconds. */
export const epochMs = nonNegativeInt;
