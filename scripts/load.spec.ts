import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { canonicalRequest as contractsCanonical, toMarketSpec } from '@trading/contracts';
import { signatureMatches } from '../services/api-gateway/src/auth/signature';
import {
  placeOrderRequestSchema,
  amendOrderRequestSchema,
} from '../services/api-gateway/src/orders/order-request.schema';
import { validatePlaceOrder } from '../services/api-gateway/src/orders/order-rules';
import {
  MARKETS,
  Scenario,
  canonicalRequest,
  formatSteps,
  parseDurationSeconds,
  streamAuthMessage,
  type LoadAccount,
} from '../loadtest/src/scenario';
import { nodeHmac, vegetaTarget } from '../loadtest/src/vegeta-targets';

// The load scenario (loadtest/src/scenario.ts) against the gateway's own rules, and the k6
// scripts against @types/k6, so neither rots.
const root = join(__dirname, '..');
const accounts: LoadAccount[] = [
  { accountId: 'lt-a', keyId: 'ak_a', secret: 'a'.repeat(64) },
  { accountId: 'lt-b', keyId: 'ak_b', secret: 'b'.repeat(64) },
];
const specs = {
  'BTC-USDT': toMarketSpec({
    symbol: 'BTC-USDT',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    baseDecimals: 8,
    quoteDecimals: 6,
    tickSize: '0.01',
    lotSize: '0.0001',
    minQtyLots: 1,
    minNotional: '1',
    makerFeeBps: 10,
    takerFeeBps: 20,
    status: 'trading',
  }),
  'ETH-USDT': toMarketSpec({
    symbol: 'ETH-USDT',
    baseAsset: 'ETH',
    quoteAsset: 'USDT',
    baseDecimals: 8,
    quoteDecimals: 6,
    tickSize: '0.01',
    lotSize: '0.001',
    minQtyLots: 1,
    minNotional: '1',
    makerFeeBps: 10,
    takerFeeBps: 20,
    status: 'trading',
  }),
} as const;

describe('load scenario', () => {
  it('builds the canonical string exactly as the contracts do', () => {
    expect(canonicalRequest(1700000000000, 'post', '/v1/orders?x=1', '{"a":1}')).toBe(
      contractsCanonical(1700000000000, 'post', '/v1/orders?x=1', '{"a":1}'),
    );
  });

  it('formats steps as plain decimal strings', () => {
    expect(formatSteps(3000001, 2)).toBe('30000.01');
    expect(formatSteps(5, 4)).toBe('0.0005');
    expect(formatSteps(7, 0)).toBe('7');
    expect(parseDurationSeconds('1m30s')).toBe(90);
    expect(() => parseDurationSeconds('60')).toThrow();
  });

  it('plans requests the gateway accepts: valid orders, signatures that verify, the whole mix', () => {
    const s = new Scenario({
      accounts,
      symbols: Object.keys(MARKETS),
      hmac: nodeHmac,
      runTag: 'lt-test',
      seed: 7,
      minAgeMs: 0,
    });
    const kinds: Record<string, number> = {};
    let now = 1_700_000_000_000;
    for (let i = 0; i < 2000; i++) {
      now += 1;
      const p = s.next(now);
      kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
      const r = p.request;
      const account = accounts.find((a) => a.keyId === r.headers['X-API-KEY'])!;
      expect(
        signatureMatches(
          account.secret,
          contractsCanonical(r.headers['X-API-TIMESTAMP'], r.method, r.path, r.body),
          r.headers['X-API-SIGNATURE'],
        ),
      ).toBe(true);
      if (r.method === 'POST') {
        const body = placeOrderRequestSchema.parse(JSON.parse(r.body));
        expect(() => validatePlaceOrder(body, specs[body.symbol as keyof typeof specs])).not.toThrow();
        if (p.kind === 'book')
          s.acknowledged(
            p,
            JSON.stringify({ orderId: `o-${i}`, clientOrderId: p.correlationId, status: 'pending' }),
            now,
          );
      } else if (r.method === 'PATCH') {
        amendOrderRequestSchema.parse(JSON.parse(r.body));
        s.acknowledged(p, JSON.stringify({ orderId: p.correlationId, status: 'amend_requested' }), now);
      } else {
        expect(r.method).toBe('DELETE');
        expect(r.path).toMatch(/^\/v1\/orders\/o-\d+$/);
      }
    }
    for (const k of ['touch', 'book', 'cross', 'cancel', 'amend']) expect(kinds[k]).toBeGreaterThan(50);
  });

  it('writes vegeta JSON targets with a base64 body, and signs the stream auth message', () => {
    const s = new Scenario({ accounts, symbols: ['BTC-USDT'], hmac: nodeHmac, runTag: 't', seed: 1 });
    const p = s.next(Date.now());
    const t = JSON.parse(vegetaTarget('http://gw:8080', p)) as {
      method: string;
      url: string;
      body: string;
      header: Record<string, string[]>;
    };
    expect(t).toMatchObject({ method: 'POST', url: 'http://gw:8080/v1/orders' });
    expect(Buffer.from(t.body, 'base64').toString()).toBe(p.request.body);
    expect(t.header['X-API-SIGNATURE'][0]).toMatch(/^[0-9a-f]{64}$/);
    const auth = JSON.parse(streamAuthMessage(nodeHmac, accounts[0], 123)) as { signature: string };
    expect(
      signatureMatches(
        accounts[0].secret,
        contractsCanonical('123', 'GET', '/v1/stream', ''),
        auth.signature,
      ),
    ).toBe(true);
  });
});

describe('k6 scripts', () => {
  jest.setTimeout(120_000);

  it('typecheck against @types/k6 (tsc -p loadtest/tsconfig.k6.json --noEmit)', () => {
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        join(root, 'loadtest/tsconfig.k6.json'),
        '--noEmit',
      ],
      { encoding: 'utf8' },
    );
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
