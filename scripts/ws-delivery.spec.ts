import { type AddressInfo } from 'node:net';
import { TradeFrameWatcher } from '../loadtest/src/ws-delivery';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { WebSocketServer } = require('ws') as {
  WebSocketServer: new (o: { port: number }) => {
    address(): AddressInfo;
    on(
      e: 'connection',
      cb: (s: { on(e: 'message', cb: (d: Buffer) => void): void; send(d: string): void }) => void,
    ): void;
    close(): void;
  };
};

describe('npm run load: WebSocket delivery', () => {
  it('subscribes to each symbol, times each trade frame once, and reports the trades never delivered', async () => {
    const server = new WebSocketServer({ port: 0 });
    const subscribed: string[] = [];
    server.on('connection', (socket) => {
      socket.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { channel: string };
        subscribed.push(m.channel);
        if (m.channel !== 'trades:BTC-USDT') return;
        const trade = (seq: number) => ({ symbol: 'BTC-USDT', tradeId: `BTC-USDT:${seq}`, seq });
        socket.send(JSON.stringify({ type: 'snapshot', channel: m.channel, data: [trade(1)] }));
        socket.send(JSON.stringify({ type: 'update', channel: m.channel, seq: 2, data: trade(2) }));
        socket.send(JSON.stringify({ type: 'update', channel: m.channel, seq: 3, data: [trade(3)] }));
        socket.send(JSON.stringify({ type: 'update', channel: m.channel, seq: 4, data: trade(2) }));
      });
    });
    const watcher = new TradeFrameWatcher(`http://127.0.0.1:${server.address().port}`, [
      'BTC-USDT',
      'ETH-USDT',
    ]);
    await watcher.open();
    const sent = Date.now();
    const trades = new Map([
      ['BTC-USDT:2', sent - 100],
      ['BTC-USDT:3', sent - 300],
      ['ETH-USDT:9', sent],
    ]);
    for (let i = 0; i < 100 && watcher.report(trades).delivered < 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    watcher.close();
    server.close();
    const r = watcher.report(trades);
    expect(subscribed).toEqual(['trades:BTC-USDT', 'trades:ETH-USDT']);
    // The snapshot's trade is history, not a delivery; a repeated frame counts once.
    expect(r).toMatchObject({ delivered: 2, missed: 1 });
    expect(r.p50).toBeGreaterThanOrEqual(0.1);
    expect(r.p99).toBeGreaterThanOrEqual(0.3);
    expect(r.max).toBe(r.p99);
  });
});
