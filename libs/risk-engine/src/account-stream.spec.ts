import { AccountSequencer, streamStep } from './account-stream';

const order = (orderId: string) =>
  ({ type: 'order', orderId, symbol: 'BTC-USDT', status: 'new', reason: null }) as const;

describe('AccountSequencer', () => {
  it('numbers each account from its loaded seq, without gaps, balances after the account’s other updates', () => {
    const s = new AccountSequencer();
    s.load('a', 0);
    s.load('b', 41);
    const { events, last } = s.number(
      [
        { accountId: 'a', update: order('o1') },
        { accountId: 'b', update: order('o2') },
        { accountId: 'a', update: order('o3') },
      ],
      [{ accountId: 'a', asset: 'USDT', available: 5n, held: 10n }],
    );
    expect(events.map((e) => [e.accountId, e.seq, e.data.type])).toEqual([
      ['a', 1, 'order'],
      ['a', 2, 'order'],
      ['a', 3, 'balance'],
      ['b', 42, 'order'],
    ]);
    expect(events[2].data).toEqual({ type: 'balance', asset: 'USDT', available: '5', held: '10' });
    expect([...last]).toEqual([
      ['a', 3],
      ['b', 42],
    ]);
    // The next batch continues where this one ended.
    expect(s.number([{ accountId: 'a', update: order('o4') }]).events[0].seq).toBe(4);
    expect(s.last('b')).toBe(42);
  });

  it('replays a batch with the same numbers after the state is reloaded from what was committed', () => {
    const batch = [
      { accountId: 'a', update: order('o1') },
      { accountId: 'a', update: order('o2') },
    ];
    const first = new AccountSequencer();
    first.load('a', 7);
    const again = new AccountSequencer();
    again.load('a', 7);
    expect(again.number(batch).events).toEqual(first.number(batch).events);
  });

  it('refuses to number an account whose seq was not loaded', () => {
    expect(() => new AccountSequencer().number([{ accountId: 'x', update: order('o') }])).toThrow(
      /not loaded/,
    );
  });
});

describe('streamStep', () => {
  it('applies the next seq, drops repeats and older ones, reports a gap', () => {
    expect(streamStep(4, 5)).toBe('apply');
    expect(streamStep(4, 4)).toBe('drop');
    expect(streamStep(4, 2)).toBe('drop');
    expect(streamStep(4, 6)).toBe('gap');
    expect(streamStep(0, 1)).toBe('apply');
  });
});
