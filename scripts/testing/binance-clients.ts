import { createHmac, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ExchangeClient, type Credentials, until } from './exchange-client';
import { ensureServices, GATEWAY_URL, secret, type RunningServices } from './native-services';
import { openTestMarket } from './test-market';

// What the suites of standard clients against the Binance dialect (/api/v3) share: the native
// platform up, a fresh market of their own, funded accounts with API keys made through the
// operator API, and a raw Binance-signed REST call for what no client under test should do for
// itself. Each suite then points its client (ccxt, @binance/spot, a raw WebSocket) at GATEWAY_URL.

export { GATEWAY_URL, until, type Credentials };

export interface BinanceVenue {
  services: RunningServices;
  db: DataSource;
  /** The market's base asset (quoted in USDT): the gateway's symbol is `${base}-USDT`. */
  base: string;
  /** Binance's symbol of the market: `${base}USDT`. */
  symbol: string;
  /** A new account with an API key, its deposits credited (awaited). */
  account(role: string, deposits: Record<string, string>): Promise<Credentials>;
  close(): Promise<void>;
}

/** A fresh base asset for a suite's market: `prefix` and six random letters and digits. */
export function freshBase(prefix: string): string {
  return `${prefix}${randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase()}`;
}

/**
 * Brings the platform up (services not already listening are started from dist/) and lists a
 * fresh market `<base>-USDT` (ticks of 0.01, lots of 0.0001, minimum notional 1 USDT, fees 10
 * maker / 20 taker bps), waiting until /api/v3/exchangeInfo lists it. `app` names the database
 * connection and the accounts (`<app>-<role>-<base>`).
 */
export async function openBinanceVenue(app: string, base: string): Promise<BinanceVenue> {
  const api = new ExchangeClient(GATEWAY_URL);
  const services = await ensureServices();
  const operator = secret('operator_token');
  let db: DataSource | undefined;
  try {
    db = await openTestMarket(app, `${base}-USDT`, base);
    // The gateway's market catalog reloads every 2 s.
    await until('market listed', async () => {
      const res = await api.public(`/api/v3/exchangeInfo?symbol=${base}USDT`);
      return res.status === 200 ? true : undefined;
    });
  } catch (err) {
    // The suite gets no venue to close: what was started here stops now.
    await db?.destroy();
    await services.stop();
    throw err;
  }
  const opened = db;
  return {
    services,
    db: opened,
    base,
    symbol: `${base}USDT`,
    async account(role, deposits) {
      const { apiKey, secret } = await api.fundedAccount(operator, `${app}-${role}-${base}`, role, deposits);
      return { apiKey, secret };
    },
    async close() {
      await opened.destroy();
      await services.stop();
    },
  };
}

export interface BinanceAnswer<T> {
  status: number;
  body: T;
}

/**
 * A raw call of the Binance dialect: `params` in the query string, with `X-MBX-APIKEY` when
 * `creds` is given, and `timestamp` and `signature` (hex HMAC-SHA256 of the query string) when
 * `signed`.
 */
export async function binanceCall<T = Record<string, unknown>>(
  method: string,
  path: string,
  params: Record<string, string> = {},
  creds?: Credentials,
  signed = false,
): Promise<BinanceAnswer<T>> {
  const all = signed ? { ...params, timestamp: String(Date.now()) } : params;
  let query = new URLSearchParams(all).toString();
  if (signed && creds)
    query += `${query ? '&' : ''}signature=${createHmac('sha256', creds.secret).update(query).digest('hex')}`;
  const res = await fetch(`${GATEWAY_URL}${path}${query ? `?${query}` : ''}`, {
    method,
    headers: creds ? { 'X-MBX-APIKEY': creds.apiKey } : {},
  });
  return { status: res.status, body: (await res.json()) as T };
}
