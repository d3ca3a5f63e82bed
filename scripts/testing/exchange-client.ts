import { createHmac } from 'node:crypto';
import { canonicalRequest, SIGNATURE_HEADERS, STREAM_PATH } from '@trading/contracts';
import { checkResponse } from './openapi-check';
import { until } from './until';

export { until };

// A small client of the public API for tests and the platform demo: signed REST and the
// WebSocket stream. `ws` comes with @nestjs/platform-ws (Node 20 has no global WebSocket).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocketImpl = require('ws') as new (url: string) => WsLike;

interface WsLike {
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'open', cb: () => void): void;
  on(event: 'close', cb: (code: number) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  send(data: string | Buffer): void;
  close(): void;
}

export interface Credentials {
  apiKey: string;
  secret: string;
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export function sign(secret: string, timestamp: string, method: string, path: string, body: string): string {
  return createHmac('sha256', secret)
    .update(canonicalRequest(timestamp, method, path, body))
    .digest('hex');
}

export class ExchangeClient {
  constructor(readonly baseUrl: string) {}

  async public<T = Record<string, unknown>>(path: string): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`);
    return this.answer<T>('GET', path, res);
  }

  /** The parsed answer, checked against the gateway's OpenAPI document when the tests enable it. */
  private async answer<T>(method: string, path: string, res: Response): Promise<ApiResponse<T>> {
    const body = (await res.json()) as T;
    await checkResponse(this.baseUrl, method, path, res.status, body);
    return { status: res.status, body, headers: res.headers };
  }

  async signed<T = Record<string, unknown>>(
    creds: Credentials,
    method: string,
    path: string,
    payload?: unknown,
    init: { signal?: AbortSignal } = {},
  ): Promise<ApiResponse<T>> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const ts = String(Date.now());
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body ? { 'content-type': 'application/json' } : {}),
        [SIGNATURE_HEADERS.apiKey]: creds.apiKey,
        [SIGNATURE_HEADERS.timestamp]: ts,
        [SIGNATURE_HEADERS.signature]: sign(creds.secret, ts, method, path, body),
      },
      body: body || undefined,
      signal: init.signal,
    });
    return this.answer<T>(method, path, res);
  }

  async operator<T = Record<string, unknown>>(
    token: string,
    method: string,
    path: string,
    payload: unknown,
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-operator-token': token },
      body: JSON.stringify(payload),
    });
    return this.answer<T>(method, path, res);
  }

  /** The account's balance of one asset (decimal strings), or undefined when it holds none. */
  async balance(creds: Credentials, asset: string): Promise<Balance | undefined> {
    const res = await this.signed<{ data?: Balance[] }>(creds, 'GET', '/v1/balances');
    return res.body.data?.find((b) => b.asset === asset);
  }

  /**
   * A new account with an API key (operator API) and its deposits, resolved once every deposit
   * shows as available; a refusal of either throws with the answer.
   */
  async fundedAccount(
    operatorToken: string,
    accountId: string,
    name: string,
    deposits: Record<string, string>,
  ): Promise<Credentials & { accountId: string }> {
    const res = await this.operator<Credentials>(operatorToken, 'POST', '/v1/operator/accounts', {
      accountId,
      name,
    });
    if (res.status !== 201)
      throw new Error(`account ${accountId}: ${res.status} ${JSON.stringify(res.body)}`);
    const who = { accountId, apiKey: res.body.apiKey, secret: res.body.secret };
    for (const [asset, amount] of Object.entries(deposits)) {
      const dep = await this.operator(operatorToken, 'POST', '/v1/operator/deposits', {
        accountId,
        asset,
        amount,
      });
      if (dep.status !== 202)
        throw new Error(`deposit ${asset} to ${accountId}: ${dep.status} ${JSON.stringify(dep.body)}`);
    }
    await this.until(`deposits of ${accountId}`, async () => {
      for (const [asset, amount] of Object.entries(deposits))
        if ((await this.balance(who, asset))?.available !== amount) return undefined;
      return true;
    });
    return who;
  }

  /** Resolves once GET /v1/markets lists every symbol (the catalog reloads on its digest's change). */
  async marketsListed(symbols: readonly string[], timeoutMs = 30_000): Promise<void> {
    await this.until(
      `${symbols.join(', ')} listed by ${this.baseUrl}`,
      async () => {
        const res = await this.public<{ data: { symbol: string }[] }>('/v1/markets');
        const listed = new Set(res.body.data.map((m) => m.symbol));
        return symbols.every((s) => listed.has(s)) ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** Polls until `check` returns a value (not undefined) or the timeout passes. */
  until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
    return until(what, check, timeoutMs, 200);
  }

  stream(): StreamClient {
    return new StreamClient(`${this.baseUrl.replace(/^http/, 'ws')}${STREAM_PATH}`);
  }
}

export interface Balance {
  asset: string;
  available: string;
  held: string;
}

export interface StreamMessage {
  type: string;
  channel?: string;
  seq?: number;
  data?: unknown;
  [k: string]: unknown;
}

/** A WebSocket subscriber that records every message for assertions. */
export class StreamClient {
  readonly messages: StreamMessage[] = [];
  /** The close code once the socket closed (either side), else null. */
  closeCode: number | null = null;
  private readonly ws: WsLike;
  private readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocketImpl(url);
    this.ws.on('message', (d) => this.messages.push(JSON.parse(d.toString()) as StreamMessage));
    this.ws.on('close', (code) => (this.closeCode = code));
    this.opened = new Promise((resolve, reject) => {
      this.ws.on('open', () => resolve());
      this.ws.on('error', reject);
    });
  }

  async send(msg: Record<string, unknown>): Promise<void> {
    await this.opened;
    this.ws.send(JSON.stringify(msg));
  }

  /** Sends a frame as is: text, or binary for a Buffer (for hostile-input tests). */
  async sendRaw(data: string | Buffer): Promise<void> {
    await this.opened;
    this.ws.send(data);
  }

  async auth(creds: Credentials): Promise<void> {
    const timestamp = String(Date.now());
    await this.send({
      op: 'auth',
      apiKey: creds.apiKey,
      timestamp,
      signature: sign(creds.secret, timestamp, 'GET', STREAM_PATH, ''),
    });
  }

  async waitFor(predicate: (m: StreamMessage) => boolean, timeoutMs = 30_000): Promise<StreamMessage> {
    const started = Date.now();
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (Date.now() - started > timeoutMs)
        throw new Error(`no matching stream message; got ${JSON.stringify(this.messages).slice(0, 2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  close(): void {
    this.ws.close();
  }
}
