/** One dependency a service needs to do its job; readiness fails when any check fails. */
export interface ReadinessCheck {
  readonly name: string;
  readonly timeoutMs: number;
  check(): Promise<void>;
}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
