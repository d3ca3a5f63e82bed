import { updateTimes } from '../loadtest/src/ws-crowd';

describe('npm run load --ws-clients: what a crowd socket times', () => {
  it("takes a depth update's time and every trade's time of a trades update", () => {
    expect(
      updateTimes(
        JSON.stringify({
          type: 'update',
          channel: 'depth:BTC-USDT',
          seq: 4,
          data: { bids: [], asks: [], time: 17 },
        }),
      ),
    ).toEqual({ kind: 'depth', times: [17] });
    expect(
      updateTimes(
        JSON.stringify({
          type: 'update',
          channel: 'trades:BTC-USDT',
          seq: 9,
          data: [
            { tradeId: 'BTC-USDT:1', time: 20 },
            { tradeId: 'BTC-USDT:2', time: 21 },
          ],
        }),
      ),
    ).toEqual({ kind: 'trades', times: [20, 21] });
  });

  it('ignores snapshots, acknowledgements and other channels', () => {
    expect(
      updateTimes(JSON.stringify({ type: 'snapshot', channel: 'depth:BTC-USDT', seq: 1, data: { time: 1 } })),
    ).toBe(null);
    expect(updateTimes(JSON.stringify({ type: 'subscribed', channel: 'trades:BTC-USDT' }))).toBe(null);
    expect(
      updateTimes(JSON.stringify({ type: 'update', channel: 'ticker:BTC-USDT', seq: 2, data: { time: 3 } })),
    ).toBe(null);
  });
});
