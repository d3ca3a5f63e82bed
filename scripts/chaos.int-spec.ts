import { FAULT_KINDS, runChaos, SHORT_RUN, summarize } from './chaos/scenario';

// Crash recovery of every process under a steady load through the real gateway: the
// api-gateway, the order-router, the matching worker owning the symbol and market-data are
// SIGKILLed and restarted in turn, then the Kafka broker, PgBouncer and Redis once each.
// Afterwards every acknowledged order exists once in the state the engine replay gives it,
// trades equal an engine-only replay of the sequenced commands, the money reconciles and the
// candles, depth and recent trades agree (scripts/chaos/reconcile.ts). `npm run chaos` is the
// longer run of the same scenario.
describe('crash recovery of every process under load', () => {
  jest.setTimeout(600_000);

  it('loses and duplicates nothing when each kind of process is SIGKILLed and restarted', async () => {
    const report = await runChaos({ ...SHORT_RUN, faults: [...FAULT_KINDS] });
    const summary = summarize(report);
    process.stdout.write(`${summary}\n`);
    expect(report.faults.map((f) => f.kind)).toEqual([...FAULT_KINDS]);
    expect(report.load.acknowledged).toBeGreaterThan(200);
    expect(report.reconciliation.trades).toBeGreaterThan(50);
    expect({ lost: report.reconciliation.lost, duplicated: report.reconciliation.duplicated }).toEqual({
      lost: 0,
      duplicated: 0,
    });
    if (!report.ok) throw new Error(summary);
  });
});
