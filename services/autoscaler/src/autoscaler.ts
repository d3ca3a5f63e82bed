import { Counter, Gauge, type Registry } from 'prom-client';
import type { AutoscalerConfig } from './config';
import type { ReplicaControl } from './docker-engine';
import { decide, initialState, type Decision, type ScaleState, type SignalReading } from './policy';
import type { QueryFn } from './prometheus';

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** One service's decision of a tick, with what it was based on (the test reads these from the log). */
export interface DecisionRecord extends Decision {
  service: string;
  readings: SignalReading[] | 'unavailable';
  applied: boolean;
}

export function autoscalerMetrics(registry: Registry) {
  return {
    decisions: new Counter({
      name: 'autoscaler_decisions_total',
      help: 'Replica changes decided, per service and direction (up, down)',
      labelNames: ['service', 'direction'],
      registers: [registry],
    }),
    desired: new Gauge({
      name: 'autoscaler_desired_replicas',
      help: 'Replicas the autoscaler wants for the service (its last decision)',
      labelNames: ['service'],
      registers: [registry],
    }),
    signal: new Gauge({
      name: 'autoscaler_signal_value',
      help: 'Last value read for a scaling signal (NaN: no series)',
      labelNames: ['service', 'signal'],
      registers: [registry],
    }),
    threshold: new Gauge({
      name: 'autoscaler_signal_threshold',
      help: 'Thresholds of a scaling signal: bound="up" scales up above, bound="down" down below',
      labelNames: ['service', 'signal', 'bound'],
      registers: [registry],
    }),
    prometheusErrors: new Counter({
      name: 'autoscaler_prometheus_errors_total',
      help: 'Ticks on which Prometheus did not answer a query (no change was made)',
      registers: [registry],
    }),
    prometheusUp: new Gauge({
      name: 'autoscaler_prometheus_up',
      help: '1 when the last tick read every signal from Prometheus, else 0',
      registers: [registry],
    }),
    dockerErrors: new Counter({
      name: 'autoscaler_docker_errors_total',
      help: 'Docker API calls that failed, per service',
      labelNames: ['service'],
      registers: [registry],
    }),
    dryRun: new Gauge({
      name: 'autoscaler_dry_run',
      help: '1 when decisions are only logged and exported (AUTOSCALER_MODE=dry-run)',
      registers: [registry],
    }),
  };
}

/** Update states of a rollout or rollback still replacing tasks (not `*_completed`, `*paused`). */
const ROLLING = new Set(['updating', 'rollback_started']);

export class Autoscaler {
  private readonly states = new Map<string, ScaleState>();
  private readonly lastReason = new Map<string, string>();
  private readonly metrics: ReturnType<typeof autoscalerMetrics>;

  constructor(
    private readonly config: AutoscalerConfig,
    private readonly query: QueryFn,
    private readonly docker: ReplicaControl,
    private readonly log: Logger,
    registry: Registry,
    private readonly clock: () => number = Date.now,
  ) {
    this.metrics = autoscalerMetrics(registry);
    this.metrics.dryRun.set(config.mode === 'dry-run' ? 1 : 0);
    for (const s of config.services)
      for (const sig of s.policy.signals) {
        this.metrics.threshold.set({ service: s.name, signal: sig.name, bound: 'up' }, sig.up);
        this.metrics.threshold.set({ service: s.name, signal: sig.name, bound: 'down' }, sig.down);
      }
  }

  /** Reads every signal once: all of them, or `unavailable` when Prometheus fails any query. */
  private async readAll(): Promise<Map<string, SignalReading[]> | 'unavailable'> {
    const out = new Map<string, SignalReading[]>();
    try {
      for (const s of this.config.services) {
        const readings: SignalReading[] = [];
        for (const sig of s.policy.signals)
          readings.push({ name: sig.name, value: await this.query(s.queries[sig.name]) });
        out.set(s.name, readings);
      }
    } catch (err) {
      this.metrics.prometheusErrors.inc();
      this.metrics.prometheusUp.set(0);
      this.log.warn(
        { event: 'prometheus_unavailable', error: (err as Error).message },
        'Prometheus did not answer: no replica changes this tick',
      );
      return 'unavailable';
    }
    this.metrics.prometheusUp.set(1);
    return out;
  }

  async tick(): Promise<DecisionRecord[]> {
    const all = await this.readAll();
    const records: DecisionRecord[] = [];
    for (const s of this.config.services) {
      const full = `${this.config.stack}_${s.name}`;
      let view;
      try {
        view = await this.docker.inspect(full);
      } catch (err) {
        this.metrics.dockerErrors.inc({ service: s.name });
        this.log.error(
          { event: 'docker_error', service: s.name, error: (err as Error).message },
          'cannot read the service',
        );
        continue;
      }
      if (view.replicas === null) {
        this.log.error({ event: 'not_replicated', service: s.name }, 'not a replicated service: left alone');
        continue;
      }
      const readings = all === 'unavailable' ? 'unavailable' : (all.get(s.name) ?? []);
      if (readings !== 'unavailable')
        for (const r of readings)
          this.metrics.signal.set({ service: s.name, signal: r.name }, r.value ?? NaN);
      const decision = decide({
        policy: s.policy,
        current: view.replicas,
        readings,
        now: this.clock(),
        state: this.states.get(s.name) ?? initialState(),
        partitions: this.config.partitions,
      });
      let applied = false;
      if (decision.direction !== 'hold') {
        // A rollout in progress owns the service: scaling now would fight its task replacement.
        if (ROLLING.has(view.updateState)) {
          this.log.info(
            {
              event: 'scale_deferred',
              service: s.name,
              updateState: view.updateState,
              from: decision.from,
              to: decision.to,
            },
            'a rollout is under way: decision deferred to a later tick',
          );
          continue;
        }
        if (this.config.mode === 'on') {
          try {
            await this.docker.scale(view, decision.to);
            applied = true;
          } catch (err) {
            this.metrics.dockerErrors.inc({ service: s.name });
            this.log.error(
              { event: 'docker_error', service: s.name, to: decision.to, error: (err as Error).message },
              'scaling failed: retried on a later tick',
            );
            continue;
          }
        }
        this.metrics.decisions.inc({ service: s.name, direction: decision.direction });
      }
      this.states.set(s.name, decision.state);
      this.metrics.desired.set({ service: s.name }, decision.to);
      const record: DecisionRecord = { ...decision, service: s.name, readings, applied };
      records.push(record);
      this.logDecision(record);
    }
    return records;
  }

  private logDecision(r: DecisionRecord): void {
    const fields = {
      event: 'autoscaler_decision',
      service: r.service,
      direction: r.direction,
      from: r.from,
      to: r.to,
      reason: r.reason,
      metric: r.signal?.name,
      value: r.signal?.value,
      threshold: r.signal?.threshold,
      readings:
        r.readings === 'unavailable'
          ? 'unavailable'
          : Object.fromEntries(r.readings.map((x) => [x.name, x.value])),
      applied: r.applied,
      mode: this.config.mode,
    };
    if (r.direction !== 'hold') {
      this.log.info(fields, `scale ${r.direction} ${r.service} ${r.from} -> ${r.to} (${r.reason})`);
      this.lastReason.set(r.service, r.reason);
      return;
    }
    // A hold is logged at info when its reason changes (at_max, up_cooldown, down_waiting...),
    // every tick at debug: the log says why nothing happened without repeating it every 15 s.
    if (this.lastReason.get(r.service) !== r.reason) {
      this.log.info(fields, `hold ${r.service} at ${r.from} (${r.reason})`);
      this.lastReason.set(r.service, r.reason);
    } else this.log.debug(fields, `hold ${r.service} at ${r.from} (${r.reason})`);
  }
}
