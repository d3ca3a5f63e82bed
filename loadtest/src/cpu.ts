// CPU per process during a run, sampled from /proc (what pidstat reads): every process's
// utime+stime, grouped by a label (the platform's services by pid file, else the command name).
import { readdirSync, readFileSync } from 'node:fs';
import { INFRA_NAMES, SERVICE_NAMES, pidOf } from './platform';

const TICKS_PER_SECOND = 100; // CLK_TCK on Linux

function readTicks(): Map<number, { comm: string; ticks: number; ppid: number }> {
  const out = new Map<number, { comm: string; ticks: number; ppid: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      out.set(Number(name), {
        comm,
        ticks: Number(fields[11]) + Number(fields[12]),
        ppid: Number(fields[1]),
      });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The fields of /proc/<pid>/stat after the command name (field 3 of proc(5) is index 0). */
function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime+stime of one process, in ms. */
export function cpuMsOf(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** utime+stime of this process's children that exited and were waited for (cutime+cstime). */
function exitedChildrenTicks(): number {
  const fields = statFields('self');
  return Number(fields[13]) + Number(fields[14]);
}

/** The same, in ms. */
export const exitedChildrenCpuMs = (): number => (exitedChildrenTicks() * 1000) / TICKS_PER_SECOND;

function totalCpu(): { busy: number; all: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  const all = cpu.reduce((a, b) => a + b, 0);
  return { busy: all - idle, all };
}

export interface CpuReport {
  seconds: number;
  /** Machine CPU busy, % of all cores. */
  machineBusyPct: number;
  cores: number;
  /** % of one core, averaged over the window, highest first. */
  byProcess: { name: string; cpuPct: number }[];
}

/** Samples between start() and stop(); labels: service names, kafka (java), postgres, … */
export class CpuSampler {
  private first = readTicks();
  private firstTotal = totalCpu();
  private started = Date.now();
  private labels = new Map<number, string>();
  private readonly postmaster: number | null;
  private exitedChildren: { name: string; first: number } | null = null;

  constructor(extra: Record<string, number> = {}) {
    for (const name of [...SERVICE_NAMES, ...INFRA_NAMES]) {
      const pid = pidOf(name);
      if (pid) this.labels.set(pid, name);
    }
    for (const [name, pid] of Object.entries(extra)) this.labels.set(pid, name);
    // PostgreSQL's backends are children of the postmaster: counted with it.
    this.postmaster = pidOf('postgres');
  }

  label(pid: number, name: string): void {
    this.labels.set(pid, name);
  }

  /**
   * Also counts, under `name`, the CPU of this process's children that exit before stop() (the
   * vegeta processes: gone from /proc by then, their time is in this process's cutime/cstime).
   * Children still running at stop() are read from /proc as usual, so nothing counts twice.
   */
  countExitedChildren(name: string): void {
    this.exitedChildren = { name, first: exitedChildrenTicks() };
  }

  start(): void {
    this.first = readTicks();
    this.firstTotal = totalCpu();
    this.started = Date.now();
    if (this.exitedChildren) this.exitedChildren.first = exitedChildrenTicks();
  }

  /** `minPct`: processes below it are left out of byProcess (0.5 % of a core by default). */
  stop(cores: number, minPct = 0.5): CpuReport {
    const last = readTicks();
    const lastTotal = totalCpu();
    const seconds = (Date.now() - this.started) / 1000;
    const sums = new Map<string, number>();
    for (const [pid, cur] of last) {
      const before = this.first.get(pid)?.ticks ?? 0;
      const d = cur.ticks - before;
      if (d <= 0) continue;
      let name = this.labels.get(pid) ?? cur.comm;
      // Another checkout's Kafka or PostgreSQL on the same machine is not this platform's.
      if (name === 'java') name = 'java (not this platform)';
      if (name.startsWith('postgres') || name === 'postmaster')
        name =
          this.postmaster !== null && cur.ppid === this.postmaster
            ? 'postgres'
            : 'postgres (not this platform)';
      sums.set(name, (sums.get(name) ?? 0) + d);
    }
    if (this.exitedChildren) {
      const { name, first } = this.exitedChildren;
      const d = exitedChildrenTicks() - first;
      if (d > 0) sums.set(name, (sums.get(name) ?? 0) + d);
    }
    const byProcess = [...sums.entries()]
      .map(([name, ticks]) => ({
        name,
        cpuPct: Math.round((ticks / TICKS_PER_SECOND / seconds) * 10000) / 100,
      }))
      .filter((p) => p.cpuPct >= minPct)
      .sort((a, b) => b.cpuPct - a.cpuPct);
    const busy = lastTotal.busy - this.firstTotal.busy;
    const all = lastTotal.all - this.firstTotal.all;
    return { seconds, machineBusyPct: all > 0 ? Math.round((busy / all) * 1000) / 10 : 0, cores, byProcess };
  }
}

export interface CostModel {
  /** CPU milliseconds per successful request, per process of this platform, highest first. */
  byProcess: { name: string; msPerRequest: number }[];
  /** Sum over this platform's processes (and the load driver). */
  totalMsPerRequest: number;
  /** What the run's cores could take if every process scaled linearly: cores × 1000 / total. */
  capacityPerSecond: number;
  /** Cores the same cost would need at the run's target rate. */
  coresForTarget: number;
}

/**
 * The run's CPU turned into a cost per request: which process spends what on one order, the
 * rate the machine's cores could carry at that cost, and the cores the target would need.
 * Other checkouts' processes (and anything not labelled as this platform's) are left out.
 */
export function costModel(
  cpu: CpuReport,
  successPerSecond: number,
  targetRate: number,
  platformNames: Iterable<string>,
): CostModel | null {
  if (successPerSecond <= 0) return null;
  const ours = new Set(platformNames);
  const byProcess = cpu.byProcess
    .filter((p) => ours.has(p.name))
    .map((p) => ({ name: p.name, msPerRequest: round3((p.cpuPct * 10) / successPerSecond) }));
  const totalMsPerRequest = round3(byProcess.reduce((sum, p) => sum + p.msPerRequest, 0));
  if (totalMsPerRequest <= 0) return null;
  return {
    byProcess,
    totalMsPerRequest,
    capacityPerSecond: Math.round((cpu.cores * 1000) / totalMsPerRequest),
    coresForTarget: Math.round(((targetRate * totalMsPerRequest) / 1000) * 10) / 10,
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
