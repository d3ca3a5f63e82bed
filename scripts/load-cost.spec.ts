import { costModel, type CpuReport } from '../loadtest/src/cpu';

const report: CpuReport = {
  seconds: 60,
  machineBusyPct: 99,
  cores: 2,
  byProcess: [
    { name: 'api-gateway', cpuPct: 40 },
    { name: 'kafka', cpuPct: 30 },
    { name: 'java (not this platform)', cpuPct: 25 },
    { name: 'postgres', cpuPct: 20 },
    { name: 'load-driver', cpuPct: 5 },
  ],
};
const ours = ['api-gateway', 'kafka', 'postgres', 'load-driver'];

describe('costModel', () => {
  it('turns % of a core at a rate into CPU ms per request, leaving other checkouts out', () => {
    const m = costModel(report, 1000, 5000, ours)!;
    // 40 % of a core = 400 ms/s, over 1,000 requests/s = 0.4 ms each.
    expect(m.byProcess).toEqual([
      { name: 'api-gateway', msPerRequest: 0.4 },
      { name: 'kafka', msPerRequest: 0.3 },
      { name: 'postgres', msPerRequest: 0.2 },
      { name: 'load-driver', msPerRequest: 0.05 },
    ]);
    expect(m.totalMsPerRequest).toBe(0.95);
    expect(m.capacityPerSecond).toBe(2105); // 2 cores × 1000 ms / 0.95 ms
    expect(m.coresForTarget).toBe(4.8); // 5,000/s × 0.95 ms
  });

  it('has no model without successful requests', () => {
    expect(costModel(report, 0, 5000, ours)).toBeNull();
  });
});
