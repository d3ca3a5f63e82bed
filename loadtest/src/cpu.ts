// CPU per process during a run, sampled from /proc (what pidstat reads): every process's
// utime+stime, grouped by a label (the platform's services by pid file, else the command name).
import { readdirSync, readFileSync } from 'node:fs';
import { INFRA_NAMES, SERVICE_NAMES, pidOf } from './platform';

const TICKS_PER_SECOND = 100; // CLK_TCK on Linux

interface ProcTicks {
  comm: string;
  /** utime+stime. */
  ticks: number;
  /** cutime+cstime: children that exited and were reaped (a container's health-check execs). */
  reaped: number;
  ppid: number;
}

function readTicks(): Map<number, ProcTicks> {
  const out = new Map<number, ProcTicks>();
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
        reaped: Number(fields[13]) + Number(fields[14]),
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
  /** Resident memory per label at stop(), MB (RSS and PSS summed over its processes), highest first. */
  memory?: MemoryByLabel[];
}

export interface MemoryByLabel {
  name: string;
  rssMB: number;
  /** Proportional set size: shared pages split between their users, so sums do not count them twice. */
  pssMB: number;
  processes: number;
}

/** RSS and PSS of one process in kB (/proc/<pid>/smaps_rollup), null when it is gone or not readable. */
export function memoryOf(pid: number): { rss: number; pss: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return null;
  }
}

export interface SamplerOptions {
  /** Label the native platform's processes by their pid files (default true). */
  nativePids?: boolean;
  /** Labels a process the pid files do not (e.g. by its container's Swarm service); null: by comm. */
  labeller?: (pid: number, comm: string) => string | null;
}

/** Samples between start() and stop(); labels: service names, kafka (java), postgres, … */
export class CpuSampler {
  private first = readTicks();
  private firstTotal = totalCpu();
  private started = Date.now();
  private labels = new Map<number, string>();
  private readonly postmaster: number | null;
  private exitedChildren: { name: string; first: number } | null = null;
  private readonly labeller?: (pid: number, comm: string) => string | null;

  constructor(extra: Record<string, number> = {}, options: SamplerOptions = {}) {
    const native = options.nativePids ?? true;
    if (native)
      for (const name of [...SERVICE_NAMES, ...INFRA_NAMES]) {
        const pid = pidOf(name);
        if (pid) this.labels.set(pid, name);
      }
    for (const [name, pid] of Object.entries(extra)) this.labels.set(pid, name);
    // PostgreSQL's backends are children of the postmaster: counted with it.
    this.postmaster = native ? pidOf('postgres') : null;
    this.labeller = options.labeller;
  }

  /** A process's label: pid file or given, else the labeller's, else by command name. */
  private nameOf(pid: number, cur: ProcTicks): string {
    const given = this.labels.get(pid) ?? this.labeller?.(pid, cur.comm);
    if (given) return given;
    const name = cur.comm;
    // Another checkout's Kafka or PostgreSQL on the same machine is not this platform's.
    if (name === 'java') return 'java (not this platform)';
    if (name.startsWith('postgres') || name === 'postmaster')
      return this.postmaster !== null && cur.ppid === this.postmaster
        ? 'postgres'
        : 'postgres (not this platform)';
    return name;
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
    const memory = new Map<string, MemoryByLabel>();
    for (const [pid, cur] of last) {
      const name = this.nameOf(pid, cur);
      const mem = memoryOf(pid);
      if (mem && mem.rss > 0) {
        const m = memory.get(name) ?? { name, rssMB: 0, pssMB: 0, processes: 0 };
        m.rssMB += mem.rss / 1024;
        m.pssMB += mem.pss / 1024;
        m.processes++;
        memory.set(name, m);
      }
      const was = this.first.get(pid);
      // Children reaped meanwhile (cutime) count under their parent, e.g. the health-check
      // execs a container engine runs; this process's own children are counted below.
      const reaped = pid === process.pid ? 0 : cur.reaped - (was?.reaped ?? 0);
      const d = cur.ticks - (was?.ticks ?? 0) + Math.max(0, reaped);
      if (d <= 0) continue;
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
    return {
      seconds,
      machineBusyPct: all > 0 ? Math.round((busy / all) * 1000) / 10 : 0,
      cores,
      byProcess,
      memory: [...memory.values()]
        .map((m) => ({ ...m, rssMB: Math.round(m.rssMB), pssMB: Math.round(m.pssMB) }))
        .sort((a, b) => b.rssMB - a.rssMB),
    };
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
