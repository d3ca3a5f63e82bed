import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/** Flips readiness off as soon as shutdown starts, so balancers stop sending traffic first. */
@Injectable()
export class ShutdownState implements BeforeApplicationShutdown {
  private stopping = false;

  get isShuttingDown(): boolean {
    return this.stopping;
  }

  /** Readiness off now, before the application closes (the drain of bootstrap.ts). */
  markStopping(): void {
    this.stopping = true;
  }

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }
}
