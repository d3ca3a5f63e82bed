import { z } from 'zod';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';

// What the gateway refuses at its edge, before any handler: control characters in any text,
// duplicate and prototype keys in JSON. Clients get a 400 naming the field; nothing of it reaches
// PostgreSQL (which refuses NUL in text with an error that would be a 500) or a log line.

/** C0 and C1 controls, DEL, and lone UTF-16 surrogates (no valid text carries them). */
const CONTROL = /[\p{Cc}\p{Cs}]/u;

/** True when `text` has a control character or a lone surrogate. */
export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/** A field path as the errors name it: keys joined with dots, control characters escaped. */
function fieldName(path: readonly (string | number)[]): string {
  return path.map((p) => (typeof p === 'string' && CONTROL.test(p) ? JSON.stringify(p) : p)).join('.');
}

/** Keys no body may carry: they reach Object.prototype through a careless merge. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

interface Frame {
  /** Keys seen so far (objects) or null (arrays). */
  keys: Set<string> | null;
  /** The object's key whose value comes next, or the array's next index. */
  at: string | number;
  expectKey: boolean;
}

/**
 * Checks a JSON text that JSON.parse accepted: every object's keys once each, no prototype key,
 * no control character in a key or a string value. Returns the first problem, naming the field
 * by its path (`a.b.0.c`), or null. One linear scan; strings are decoded only when escaped.
 */
export function inspectJson(text: string): GatewayException | null {
  const stack: Frame[] = [];
  const path = (): (string | number)[] => stack.map((f) => f.at);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const d = text.charCodeAt(j);
        if (d === 92 /* \ */) {
          escaped = true;
          j++;
        } else if (d === 34) break;
      }
      const raw = text.slice(i + 1, j);
      const value = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : raw;
      i = j;
      const frame = stack[stack.length - 1];
      if (frame?.keys && frame.expectKey) {
        frame.at = value;
        frame.expectKey = false;
        if (CONTROL.test(value))
          return new GatewayException(
            ErrorCode.VALIDATION_FAILED,
            'field names must not contain control characters',
            fieldName(path()),
          );
        if (FORBIDDEN_KEYS.has(value))
          return new GatewayException(
            ErrorCode.MALFORMED_JSON,
            `key ${value} is not allowed`,
            fieldName(path()),
          );
        if (frame.keys.has(value)) {
          const field = fieldName(path());
          return new GatewayException(ErrorCode.MALFORMED_JSON, `duplicate key ${field}`, field);
        }
        frame.keys.add(value);
      } else if (CONTROL.test(value)) {
        const field = stack.length > 0 ? fieldName(path()) : undefined;
        return new GatewayException(
          ErrorCode.VALIDATION_FAILED,
          `${field ?? 'body'}: must not contain control characters`,
          field,
        );
      }
    } else if (c === 123 /* { */) {
      stack.push({ keys: new Set(), at: '', expectKey: true });
    } else if (c === 91 /* [ */) {
      stack.push({ keys: null, at: 0, expectKey: false });
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      stack.pop();
    } else if (c === 44 /* , */) {
      const frame = stack[stack.length - 1];
      if (frame?.keys) frame.expectKey = true;
      else if (frame) frame.at = (frame.at as number) + 1;
    }
  }
  return null;
}

/**
 * Query values and path parameters as Fastify parsed them: the first with a control character, as
 * a 400 naming it (a cursor's is INVALID_CURSOR, as for any cursor this API did not return).
 */
export function inspectParameters(...sources: unknown[]): GatewayException | null {
  for (const source of sources) {
    if (source === null || typeof source !== 'object') continue;
    for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
      const values = Array.isArray(value) ? (value as unknown[]) : [value];
      const bad = CONTROL.test(key) || values.some((v) => typeof v === 'string' && CONTROL.test(v));
      if (!bad) continue;
      const field = fieldName([key]);
      if (key === 'cursor')
        return new GatewayException(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned', field);
      return new GatewayException(
        ErrorCode.VALIDATION_FAILED,
        `${field}: must not contain control characters`,
        field,
      );
    }
  }
  return null;
}

/** The content encodings the gateway accepts on a body: none but identity (nothing is decoded). */
export function unsupportedEncoding(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const values = (Array.isArray(header) ? header.join(',') : header).split(',');
  return values.some((v) => {
    const token = v.trim().toLowerCase();
    return token !== '' && token !== 'identity';
  });
}

/**
 * A query integer (limit, levels): decimal digits only, so `0x10`, `1e2`, ` 10` and `10.0` are
 * refused (Number() would take them).
 */
export function queryInteger(min: number, max: number, dflt: number) {
  return z
    .string()
    .regex(/^[0-9]{1,6}$/, `must be a decimal integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(dflt);
}
