import { z } from 'zod';
import { ORDER_TYPES, SIDES, STP_MODES, TIMES_IN_FORCE } from './vocabulary';

/** `BASE-QUOTE`, upper case. */
export const symbolSchema = z.string().regex(/^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$/, 'must look like BASE-QUOTE');
/** Ids are opaque strings: UUIDs from the gateway, or operator-chosen account ids. */
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_.:-]');
/** Money and quantities travel as JSON integers: ticks, lots, smallest units. Never floats. */
export const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const nonNegativeInt = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const sideSchema = z.enum(SIDES);
export const orderTypeSchema = z.enum(ORDER_TYPES);
export const tifSchema = z.enum(TIMES_IN_FORCE);
export const stpSchema = z.enum(STP_MODES);
/** Epoch milliseconds. */
export const epochMs = nonNegativeInt;
