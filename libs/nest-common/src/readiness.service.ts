import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { MetricsRegistry } from '@trading/metrics';
import { READINESS_CHECKS, type ReadinessCheck } from './readiness';

const POLL_MS = 5000;

async function withTimeout(promise: Promise<void>, ms: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} check timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Runs each dependency check with its own timeout, for /health/ready and on its own every 5 s,
 * so `service_dependency_up` (and the alerts on it) move even when nothing polls readiness.
 */
@Injectable()
export class ReadinessService implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private readyOnce = false;

  constructor(
    private readonly metrics: MetricsRegistry,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.runAll(), POLL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get all(): readonly ReadinessCheck[] {
    return this.checks;
  }

  /** Every dependency answered at once at least one time since the process started. */
  get hasBeenReady(): boolean {
    return this.readyOnce;
  }

  /** Every check just passed (the /health/ready handler ran them all). */
  noteAllPassed(): void {
    this.readyOnce = true;
  }

  /** Runs every check; true (and remembered) when all of them pass. */
  async runAll(): Promise<boolean> {
    const errors = await Promise.all(this.checks.map((c) => this.run(c)));
    const ready = errors.every((e) => e === null);
    if (ready) this.readyOnce = true;
    return ready;
  }

  /** Resolves with the error message when the check fails, null when it passes. */
  async run(c: ReadinessCheck): Promise<string | null> {
    try {
      await withTimeout(c.check(), c.timeoutMs, c.name);
      this.metrics.ready.set({ dependency: c.name }, 1);
      return null;
    } catch (err) {
      this.metrics.ready.set({ dependency: c.name }, 0);
      return err instanceof Error ? err.message : String(err);
    }
  }
}
