import { hasControlCharacter } from '../common/edge-input';
import { BinanceCode, BinanceError, illegal, mandatory } from './binance.errors';

// Binance requests carry their parameters in the query string and/or an
// application/x-www-form-urlencoded body; a signed request's signature is one of them. Each
// parameter once (a repeat is refused, never "first wins"), no control characters, and only the
// parameters an endpoint reads: an unknown one is refused naming it.

/** The raw parameter string of a URL: what follows `?`, as sent. */
export function queryStringOf(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  return q === -1 ? '' : rawUrl.slice(q + 1);
}

/** `a=1&b=2` as pairs, decoded (`+` is a space); a malformed escape is -1100 naming the parameter. */
export function parsePairs(raw: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    const key = decode(rawKey, 'parameter name');
    pairs.push([key, decode(rawValue, key)]);
  }
  return pairs;
}

function decode(text: string, name: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw illegal(name.slice(0, 32), 'percent-encoded UTF-8');
  }
}

/** The parameter string without its `signature` parameter(s), as sent: what a signature covers. */
export function withoutSignature(raw: string): string {
  return raw
    .split('&')
    .filter((p) => !p.startsWith('signature='))
    .join('&');
}

const NAME = /^[A-Za-z][A-Za-z0-9]{0,39}$/;

/**
 * The parameters of one request (query string and form body). Every getter marks its parameter as
 * read; `finish()` refuses any parameter no getter asked for (-1103 naming it).
 */
export class BinanceParams {
  private readonly values = new Map<string, string>();
  private readonly read = new Set<string>();

  constructor(pairs: Iterable<[string, string]>) {
    for (const [key, value] of pairs) {
      if (!NAME.test(key)) {
        if (hasControlCharacter(key))
          throw illegal(JSON.stringify(key).slice(0, 34), 'no control characters');
        throw new BinanceError(
          BinanceCode.UNKNOWN_PARAM,
          `An unknown parameter was sent: '${key.slice(0, 32)}'.`,
        );
      }
      if (this.values.has(key))
        throw new BinanceError(
          BinanceCode.TOO_MANY_PARAMETERS,
          `Duplicate values for parameter '${key}'; send each parameter once.`,
        );
      if (hasControlCharacter(value)) throw illegal(key, 'no control characters');
      this.values.set(key, value);
    }
  }

  /** The parameters of the query string and the form body together. */
  static of(query: string, body: string): BinanceParams {
    return new BinanceParams([...parsePairs(query), ...parsePairs(body)]);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The value, or undefined when absent; an empty value counts as absent. */
  optional(name: string): string | undefined {
    this.read.add(name);
    const v = this.values.get(name);
    return v === '' ? undefined : v;
  }

  /** The value; missing or empty is -1102 naming it. */
  required(name: string): string {
    const v = this.optional(name);
    if (v === undefined) throw mandatory(name);
    return v;
  }

  /** One of `allowed` (exactly), or `invalid()` when it is something else. */
  oneOf<T extends string>(
    name: string,
    allowed: readonly T[],
    invalid: () => BinanceError,
    required: boolean,
  ): T | undefined {
    const v = required ? this.required(name) : this.optional(name);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw invalid();
    return v as T;
  }

  /** A decimal integer from min to max, or the default when absent. */
  integer(name: string, min: number, max: number): number | undefined {
    const v = this.optional(name);
    if (v === undefined) return undefined;
    if (!/^[0-9]{1,15}$/.test(v)) throw illegal(name, `${min}..${max}`);
    const n = Number(v);
    if (n < min || n > max)
      throw new BinanceError(
        BinanceCode.INVALID_PARAMETER,
        `Parameter '${name}' must be from ${min} to ${max}.`,
      );
    return n;
  }

  /** Epoch milliseconds (startTime, endTime). */
  time(name: string): Date | undefined {
    // Up to the last millisecond of the year 9999.
    const v = this.integer(name, 0, 253_402_300_799_999);
    return v === undefined ? undefined : new Date(v);
  }

  /** A plain decimal string ("0.10000000"): its content is checked against the market later. */
  decimal(name: string, required = false): string | undefined {
    const v = required ? this.required(name) : this.optional(name);
    if (v === undefined) return undefined;
    if (!/^[0-9]{1,30}(\.[0-9]{1,18})?$/.test(v)) throw illegal(name, '^[0-9]{1,30}(\\.[0-9]{1,18})?$');
    // parseDecimal refuses leading zeros ("00.1"); Binance clients never send them, but accept.
    return v.replace(/^0+(?=[0-9])/, '');
  }

  /** Refuses whatever no getter read (-1103), naming the first such parameter. */
  finish(): void {
    for (const key of this.values.keys())
      if (!this.read.has(key))
        throw new BinanceError(BinanceCode.UNKNOWN_PARAM, `An unknown parameter was sent: '${key}'.`);
  }
}
