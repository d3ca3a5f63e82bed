import { PAIRED_FAULTS, runChaos, SHORT_RUN, summarize, type Fault } from './chaos/scenario';

// The faults issue 23 added to the chaos scenario (scripts/chaos/scenario.ts), under the same
// steady load and reconciliation as scripts/chaos.int-spec.ts: the PostgreSQL primary's
// postmaster SIGKILLed (crash recovery, PgBouncer's login retry; the services answer 503 with
// Retry-After meanwhile and recover without a restart, the replica reconnects by itself), then
// two faults at once: the matching worker owning the symbol with the Kafka broker, and the Redis
// primary (Sentinel promotes the replica) with the gateway. `npm run chaos -- --faults
// postgres,pairs` is the longer run.
const FAULTS: Fault[] = ['postgres', ...PAIRED_FAULTS];

describe('crash recovery of PostgreSQL and of two processes at once under load', () => {
  jest.setTimeout(600_000);

  it('answers 503 meanwhile, restarts nothing else, and loses and duplicates nothing', async () => {
    const report = await runChaos({ ...SHORT_RUN, faults: FAULTS });
    const summary = summarize(report);
    process.stdout.write(`${summary}\n`);
    expect(report.faults.map((f) => f.kind)).toEqual(FAULTS);
    expect(report.load.acknowledged).toBeGreaterThan(200);
    expect(report.reconciliation.trades).toBeGreaterThan(50);
    expect({
      lost: report.reconciliation.lost,
      duplicated: report.reconciliation.duplicated,
      serverErrors: report.serverErrors,
      unavailableWithoutRetryAfter: report.load.unavailableWithoutRetryAfter,
      unexpectedExits: report.faults.flatMap((f) => f.unexpectedExits),
    }).toEqual({
      lost: 0,
      duplicated: 0,
      serverErrors: 0,
      unavailableWithoutRetryAfter: 0,
      unexpectedExits: [],
    });
    const postgres = report.faults[0];
    // The hot standby reconnected to the restarted primary by itself.
    expect(postgres.detail).toMatchObject({ replicaStreaming: true, replicaRestarted: false });
    if (!report.ok) throw new Error(summary);
  });
});
