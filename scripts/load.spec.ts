import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalRequest as contractsCanonical, sampleMarketSpec } from '@trading/contracts';
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
  formatAccountsFile,
  formatSteps,
  parseAccountsFile,
  parseDurationSeconds,
  streamAuthMessage,
  type LoadAccount,
} from '../loadtest/src/scenario';
import { main as loadAccountsMain } from '../loadtest/src/accounts';
import { nodeHmac, vegetaTarget } from '../loadtest/src/vegeta-targets';

// loadtest/k6/common.ts runs in k6: its k6 modules are stubbed here (only loadAccounts is called)
// and its globals __ENV and open() are set before it loads.
jest.mock('k6/crypto', () => ({ hmac: () => '' }), { virtual: true });
jest.mock('k6/http', () => ({ __esModule: true, default: {} }), { virtual: true });

// The load scenario (loadtest/src/scenario.ts) against the gateway's own rules, and the k6
// scripts against @types/k6, so neither rots.
const root = join(__dirname, '..');
const accounts: LoadAccount[] = [
  { accountId: 'lt-a', keyId: 'ak_a', secret: 'a'.repeat(64) },
  { accountId: 'lt-b', keyId: 'ak_b', secret: 'b'.repeat(64) },
];
const specs = {
  'BTC-USDT': sampleMarketSpec(),
  'ETH-USDT': sampleMarketSpec({ symbol: 'ETH-USDT', baseAsset: 'ETH', lotSize: '0.001' }),
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

/**
 * The gateway as `npm run load:accounts` uses it: the operator API (token checked) and signed
 * GET /v1/balances, whose deposits show from the second read on (the router applies them later).
 */
async function fakeGateway(token: string): Promise<{ url: string; close(): Promise<void> }> {
  const keys = new Map<string, { accountId: string; secret: string; reads: number }>();
  const deposited = new Map<string, string[]>();
  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const body = (raw ? JSON.parse(raw) : {}) as { accountId?: string; asset?: string; amount?: string };
    if (req.url?.startsWith('/v1/operator/')) {
      if (req.headers['x-operator-token'] !== token) return reply(res, 401, { code: 'UNAUTHORIZED' });
      if (req.url === '/v1/operator/accounts' && body.accountId) {
        const keyId = `ak_${keys.size}`;
        const secret = `${keyId}-secret`.padEnd(64, 'x');
        keys.set(keyId, { accountId: body.accountId, secret, reads: 0 });
        return reply(res, 201, { accountId: body.accountId, apiKey: keyId, secret });
      }
      if (req.url === '/v1/operator/deposits' && body.accountId && body.asset && Number(body.amount) > 0) {
        deposited.set(body.accountId, [...(deposited.get(body.accountId) ?? []), body.asset]);
        return reply(res, 202, { commandId: 'c', status: 'accepted' });
      }
      return reply(res, 400, { code: 'VALIDATION_FAILED' });
    }
    const key = keys.get(String(req.headers['x-api-key']));
    const signed =
      key &&
      req.method === 'GET' &&
      signatureMatches(
        key.secret,
        contractsCanonical(String(req.headers['x-api-timestamp']), 'GET', req.url ?? '', ''),
        String(req.headers['x-api-signature']),
      );
    if (req.url !== '/v1/balances' || !key || !signed) return reply(res, 401, { code: 'UNAUTHORIZED' });
    key.reads += 1;
    const assets = key.reads > 1 ? (deposited.get(key.accountId) ?? []) : [];
    reply(res, 200, {
      data: assets.map((asset) => ({ asset, available: '1.00', held: '0' })),
      nextCursor: null,
    });
  };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => handle(req, res, raw));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('the k6 accounts file', () => {
  const k6Globals = globalThis as unknown as { __ENV?: Record<string, string>; open?: (f: string) => string };

  afterEach(() => {
    delete k6Globals.__ENV;
    delete k6Globals.open;
  });

  it('npm run load:accounts writes what the k6 scripts read (loadAccounts of loadtest/k6/common.ts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6-accounts-'));
    const tokenFile = join(dir, 'operator_token');
    writeFileSync(tokenFile, 'op-token\n');
    const out = join(dir, 'secrets/k6_accounts');
    const gateway = await fakeGateway('op-token');
    let written: Awaited<ReturnType<typeof loadAccountsMain>>;
    try {
      written = await loadAccountsMain(
        [
          `--base-url=${gateway.url}/`,
          '--operator-token-file',
          tokenFile,
          '--count',
          '3',
          '--run-id',
          'spec',
          '--out',
          out,
          '--mode',
          '644',
        ],
        () => undefined,
      );
    } finally {
      await gateway.close();
    }
    expect(written.file).toBe(out);
    expect(written.accounts.map((a) => a.accountId)).toEqual([
      'lt-spec-0000',
      'lt-spec-0001',
      'lt-spec-0002',
    ]);
    expect(statSync(out).mode & 0o777).toBe(0o644);

    // The k6 side: the job's ACCOUNTS_FILE, read by the script's own init code.
    k6Globals.__ENV = { ACCOUNTS_FILE: out, ACCOUNTS: '2' };
    k6Globals.open = (f) => readFileSync(f, 'utf8');
    const commonPath = join(root, 'loadtest/k6/common.ts');
    const common = (await import(commonPath)) as { loadAccounts(): LoadAccount[] };
    expect(common.loadAccounts()).toEqual(written.accounts.slice(0, 2));
    expect(parseAccountsFile(readFileSync(out, 'utf8'), out)).toEqual(written.accounts);
    k6Globals.__ENV = {};
    expect(() => common.loadAccounts()).toThrow(/ACCOUNTS_FILE is not set.*load:accounts/);
  });

  it('fails without an operator token the gateway takes, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6-accounts-'));
    const tokenFile = join(dir, 'operator_token');
    writeFileSync(tokenFile, 'wrong\n');
    const gateway = await fakeGateway('op-token');
    try {
      await expect(
        loadAccountsMain(
          [
            '--base-url',
            gateway.url,
            '--operator-token-file',
            tokenFile,
            '--count',
            '1',
            '--out',
            join(dir, 'a'),
          ],
          () => undefined,
        ),
      ).rejects.toThrow(/401/);
    } finally {
      await gateway.close();
    }
    expect(() => statSync(join(dir, 'a'))).toThrow();
  });

  it('is one shape for both sides: an array of {accountId, keyId, secret} (or seed.main apiKeys)', () => {
    expect(parseAccountsFile(formatAccountsFile(accounts), 'f')).toEqual(accounts);
    expect(parseAccountsFile(JSON.stringify({ apiKeys: accounts }), 'f')).toEqual(accounts);
    // The operator API's own answer ({apiKey, secret}) is not the file's shape.
    expect(() =>
      parseAccountsFile(JSON.stringify([{ accountId: 'a', apiKey: 'k', secret: 's' }]), 'f'),
    ).toThrow(/f: entry 0 has no keyId/);
    expect(() => parseAccountsFile('[]', 'f')).toThrow(/f lists no accounts/);
    expect(() => parseAccountsFile('{"accounts": []}', 'f')).toThrow(/not a JSON array/);
  });
});

describe('npm run load --idle', () => {
  it('takes 0 and 0s as "no idle window" (the --smoke default) and a duration otherwise', async () => {
    const { idleSecondsOf } = await import('../loadtest/src/run-load');
    expect(idleSecondsOf('0s')).toBe(0);
    expect(idleSecondsOf('0')).toBe(0);
    expect(idleSecondsOf('10s')).toBe(10);
    expect(() => idleSecondsOf('soon')).toThrow(/bad duration/);
  });
});
