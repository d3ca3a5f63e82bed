// Shared k6 parts: parameters from __ENV, accounts, the k6 HMAC, and request sending. The order
// mix, prices and signing come from the shared scenario module (../src/scenario.ts).
import { hmac } from 'k6/crypto';
import http, { type RefinedResponse, type ResponseType } from 'k6/http';
import {
  parseAccountsFile,
  parseDurationSeconds,
  type LoadAccount,
  type RequestSpec,
} from '../src/scenario.ts';

/** Parameters (k6 run -e NAME=value …). */
export const RATE = Number(__ENV.RATE ?? '1000');
export const DURATION = __ENV.DURATION ?? '60s';
export const SYMBOLS = (__ENV.SYMBOLS ?? 'BTC-USDT,ETH-USDT').split(',').filter((s) => s !== '');
export const ACCOUNTS = Number(__ENV.ACCOUNTS ?? '100');
/** The Compose job passes BASE_URL=http://api-gateway:8080, the Swarm job http://edge:8080. */
export const BASE_URL = (__ENV.BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
export const WS_URL = BASE_URL.replace(/^http/, 'ws') + '/v1/stream';
/** Tagged on every metric as `testid` (the k6 Prometheus dashboard filters on it). */
export const RUN_ID = __ENV.RUN_ID ?? `k6-${Date.now().toString(36)}`;
export const MD_RATE = Number(__ENV.MD_RATE ?? String(Math.max(1, Math.round(RATE / 10))));
export const WS_SUBSCRIBERS = Number(__ENV.WS_SUBSCRIBERS ?? '20');
/** Seconds of wiggle for VU sizing: preAllocatedVUs ≈ rate × expected latency. */
export const PREALLOCATED_VUS = Number(__ENV.VUS ?? String(Math.max(10, Math.ceil(RATE * 0.05))));
export const MAX_VUS = Number(__ENV.MAX_VUS ?? String(PREALLOCATED_VUS * 4));

export const k6Hmac = (secret: string, message: string): string => hmac('sha256', secret, message, 'hex');

/**
 * Accounts with keys: ACCOUNTS_FILE, a JSON array of {accountId, keyId, secret}, as
 * `npm run load:accounts` writes it (seed.main's demo-keys.json, whose `apiKeys` array has the
 * same shape, is read too). Read once in the init context.
 */
export function loadAccounts(): LoadAccount[] {
  const file = __ENV.ACCOUNTS_FILE;
  if (!file)
    throw new Error('ACCOUNTS_FILE is not set: `npm run load:accounts` writes one (loadtest/README.md)');
  return parseAccountsFile(open(file), file).slice(0, ACCOUNTS);
}

export function durationSeconds(): number {
  return parseDurationSeconds(DURATION);
}

/** Sends a scenario request; tags carry the request kind so thresholds can be per kind. */
export function send(spec: RequestSpec): RefinedResponse<ResponseType> {
  // A cancel or amend racing a fill gets 409 ORDER_NOT_OPEN: a correct answer, not a failure.
  const expected =
    spec.method === 'DELETE' || spec.method === 'PATCH'
      ? http.expectedStatuses({ min: 200, max: 299 }, 409)
      : http.expectedStatuses({ min: 200, max: 299 });
  const params = {
    headers: spec.headers,
    tags: { name: spec.name, kind: spec.name },
    responseCallback: expected,
  };
  const url = `${BASE_URL}${spec.path}`;
  switch (spec.method) {
    case 'GET':
      return http.get(url, params);
    case 'POST':
      return http.post(url, spec.body, params);
    case 'PATCH':
      return http.patch(url, spec.body, params);
    case 'DELETE':
      return http.del(url, null, params);
  }
}
