import { runScaleOutDrill, summarizeScaleOut } from './chaos/scale-out';
import { platform, platformPid } from './testing/native-services';

// The scaled-out native topology (issue 23 item 3, scripts/chaos/scale-out.ts): two gateways
// behind HAProxy, two order-routers, two market-data instances under 100 orders/s; one of each
// SIGKILLed (with its supervisor) a few seconds apart. Orders go on being accepted through the
// surviving gateway, the only failed attempts are the requests in flight at the gateway kill
// (retried with the same clientOrderId), the surviving router takes the killed one's partitions,
// the WebSocket subscriber reconnects and keeps receiving trades, every acknowledged order is
// stored once and settled, and the reconciliation is clean. Afterwards the platform's services
// are left as they were found: the default topology up again if it was, else stopped.
describe('scaled-out native topology: HAProxy, then one gateway, market-data and order-router SIGKILLed under load', () => {
  jest.setTimeout(900_000);
  /** What ran before: the default topology, the scaled one, or neither (services stopped). */
  let before: 'default' | 'scaled' | 'none' = 'none';

  beforeAll(async () => {
    if (platformPid('haproxy.pid')) before = 'scaled';
    else if (platformPid('api-gateway.pid.supervisor')) before = 'default';
    if (before === 'default') await platform(['stop-services']);
    await platform(['up'], { SCALE_OUT: '1' });
  });

  afterAll(async () => {
    if (before === 'scaled') return;
    await platform(['stop-services']);
    if (before === 'default') await platform(['up']);
  });

  it('fails over by itself: nothing lost but the requests in flight at the kill, all retried', async () => {
    const report = await runScaleOutDrill({
      rate: 100,
      durationMs: 30_000,
      log: (m) => process.stdout.write(`[scale-out] ${m}\n`),
    });
    const summary = summarizeScaleOut(report);
    process.stdout.write(`${summary}\n`);
    expect(report.load.acknowledged).toBeGreaterThan(2000);
    expect(report.reconciliation.trades).toBeGreaterThan(200);
    expect({
      lost: report.reconciliation.lost,
      duplicated: report.reconciliation.duplicated,
      conflictingAcks: report.load.conflictingAcks,
      abandoned: report.load.abandoned,
      failedOutsideKill: report.failedOutsideKill,
      pending: report.drain.pending,
    }).toEqual({
      lost: 0,
      duplicated: 0,
      conflictingAcks: 0,
      abandoned: 0,
      failedOutsideKill: 0,
      pending: 0,
    });
    expect(report.routerPartitionsAfter).toHaveLength(1);
    expect(report.subscriber.onKilledGateway).toBe(true);
    expect(report.subscriber.reconnects).toBeGreaterThanOrEqual(1);
    if (!report.ok) throw new Error(summary);
  });
});
