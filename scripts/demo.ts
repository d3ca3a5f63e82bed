import { randomUUID } from 'node:crypto';
import { ExchangeClient, type Credentials } from './testing/exchange-client';
import { secret } from './testing/native-services';

// The end of `npm run platform`: shows the pipeline working with a crossing pair on BTC-USDT
// between two fresh accounts, and prints the trade as the public API reports it.
async function main(): Promise<void> {
  const api = new ExchangeClient(`http://127.0.0.1:${process.env.API_GATEWAY_PORT ?? '8080'}`);
  const operator = secret('operator_token');
  const tag = randomUUID().slice(0, 8);
  const accounts: Record<string, Credentials> = {};
  for (const role of ['maker', 'taker']) {
    const res = await api.operator<{ apiKey: string; secret: string }>(
      operator,
      'POST',
      '/v1/operator/accounts',
      { accountId: `demo-${role}-${tag}`, name: `demo ${role}` },
    );
    if (res.status !== 201) throw new Error(`account creation failed: ${JSON.stringify(res.body)}`);
    accounts[role] = { apiKey: res.body.apiKey, secret: res.body.secret };
  }
  await api.operator(operator, 'POST', '/v1/operator/deposits', {
    accountId: `demo-maker-${tag}`,
    asset: 'BTC',
    amount: '1',
  });
  await api.operator(operator, 'POST', '/v1/operator/deposits', {
    accountId: `demo-taker-${tag}`,
    asset: 'USDT',
    amount: '100000',
  });
  await api.until('deposits', async () => {
    const b = await api.signed<{ data: { asset: string; available: string }[] }>(
      accounts.taker,
      'GET',
      '/v1/balances',
    );
    return b.body.data.some((x) => x.asset === 'USDT' && x.available === '100000') ? true : undefined;
  });
  const sell = await api.signed<{ orderId: string }>(accounts.maker, 'POST', '/v1/orders', {
    symbol: 'BTC-USDT',
    side: 'sell',
    type: 'limit',
    price: '65000.00',
    quantity: '0.01',
  });
  const buy = await api.signed<{ orderId: string }>(accounts.taker, 'POST', '/v1/orders', {
    symbol: 'BTC-USDT',
    side: 'buy',
    type: 'limit',
    price: '65010.00',
    quantity: '0.01',
  });
  process.stdout.write(
    `[demo] sell ${sell.body.orderId} -> ${sell.status}, buy ${buy.body.orderId} -> ${buy.status}\n`,
  );
  const order = await api.until('the buy to fill', async () => {
    const r = await api.signed<{ status: string; averagePrice?: string; filledQuantity?: string }>(
      accounts.taker,
      'GET',
      `/v1/orders/${buy.body.orderId}`,
    );
    return r.body.status === 'filled' ? r.body : undefined;
  });
  // Fills come from the trades table, which market-data writes a moment after the router.
  const fills = await api.until('the fill', async () => {
    const r = await api.signed<{ data: unknown[] }>(
      accounts.taker,
      'GET',
      '/v1/fills?symbol=BTC-USDT&limit=1',
    );
    return r.body.data.length > 0 ? r : undefined;
  });
  const trades = await api.public<{ data: unknown[] }>('/v1/markets/BTC-USDT/trades?limit=1');
  process.stdout.write(
    `[demo] buy order ${order.status}: ${order.filledQuantity} BTC at ${order.averagePrice}\n`,
  );
  process.stdout.write(`[demo] your fill: ${JSON.stringify(fills.body.data[0])}\n`);
  process.stdout.write(`[demo] public trade: ${JSON.stringify(trades.body.data[0])}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[demo] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
