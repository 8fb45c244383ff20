// Prometheus metrics for one process. Labels are closed sets (outcome, reason, status, queue): never URLs,
// ids or tenants, so the series count stays bounded however much traffic flows.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Pool } from './store/pool.ts';
import { queueHealth } from './store/stats.ts';

/** Gauges read from the database share one read per scrape. */
const SCRAPE_CACHE_MS = 1_000;

export interface Metrics {
  registry: Registry;
  deliveryAttempts: Counter<'outcome'>;
  deliveryDuration: Histogram<'outcome'>;
  deadLetters: Counter<'reason'>;
  jobsFinished: Counter<'status'>;
  leasesLost: Counter<'queue'>;
  /** Handlers still running well after their attempt was aborted; each keeps its worker slot until it returns. */
  handlersOverrunning: Gauge;
  handlerOverruns: Counter;
  /** Schedule occurrences this process handled, by what they came to (src/schedules/occurrence.ts). */
  scheduleOccurrences: Counter<'outcome'>;
  /** From an occurrence's time to its job's creation. */
  scheduleLag: Histogram;
  /** Delivery attempts running in this process. */
  deliveriesInFlight: Gauge;
  /** Receivers whose adaptive concurrency limit here is below its cap (they pushed back or slowed down). */
  receiversThrottled: Gauge;
  /** Changes of receivers' adaptive limits: increase, or a decrease for pushback or a latency rise. */
  concurrencyChanges: Counter<'change'>;
}

export function createMetrics(pool: Pool): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hookrelay_process_' });
  const metrics: Metrics = {
    registry,
    deliveryAttempts: new Counter({
      name: 'hookrelay_delivery_attempts_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry, gone, dead).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    deliveryDuration: new Histogram({
      name: 'hookrelay_delivery_attempt_duration_seconds',
      help: 'Time from sending a webhook to its response (or failure).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'hookrelay_dead_letters_total',
      help: 'Messages moved to the dead letters, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: 'hookrelay_jobs_finished_total',
      help: 'Jobs that reached a final status in this process.',
      labelNames: ['status'],
      registers: [registry],
    }),
    leasesLost: new Counter({
      name: 'hookrelay_leases_lost_total',
      help: 'Leases this process lost while working (taken by another, or not renewable in time); the work stopped.',
      labelNames: ['queue'],
      registers: [registry],
    }),
    handlersOverrunning: new Gauge({
      name: 'hookrelay_job_handlers_overrunning',
      help: 'Job handlers still running well after their attempt was aborted (they ignore their signal); each keeps its worker slot.',
      registers: [registry],
    }),
    handlerOverruns: new Counter({
      name: 'hookrelay_job_handler_overruns_total',
      help: 'Job handlers that kept running well after their attempt was aborted.',
      registers: [registry],
    }),
    scheduleOccurrences: new Counter({
      name: 'hookrelay_schedule_occurrences_total',
      help: 'Schedule occurrences by outcome: fired (a job made), overlap (skipped: the previous job still queued or running), refused (the job template no longer accepted), paused, repeat (already handled), not_a_run (the hour a fall-back repeats), gone (schedule deleted).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    scheduleLag: new Histogram({
      name: 'hookrelay_schedule_lag_seconds',
      help: "Time from a schedule occurrence to its job's creation.",
      buckets: [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 120, 300],
      registers: [registry],
    }),
    deliveriesInFlight: new Gauge({
      name: 'hookrelay_delivery_in_flight',
      help: 'Delivery attempts running in this process.',
      registers: [registry],
    }),
    receiversThrottled: new Gauge({
      name: 'hookrelay_delivery_receivers_throttled',
      help: "Receivers whose adaptive concurrency limit in this process is below its cap (they pushed back or slowed down); each endpoint's own limit is in its view.",
      registers: [registry],
    }),
    concurrencyChanges: new Counter({
      name: 'hookrelay_delivery_concurrency_changes_total',
      help: "Changes of receivers' adaptive concurrency limits in this process: increase, pushback (429, 503, timeout, connection error) or latency (round trips rose).",
      labelNames: ['change'],
      registers: [registry],
    }),
  };
  // Read from the database at scrape time (the same figures whichever process is scraped), once per scrape:
  // every gauge below awaits the same read.
  let cached: { at: number; health: ReturnType<typeof readHealth> } | undefined;
  const readHealth = () => queueHealth(pool).catch(() => undefined);
  const health = () => {
    if (!cached || Date.now() - cached.at > SCRAPE_CACHE_MS)
      cached = { at: Date.now(), health: readHealth() };
    return cached.health;
  };
  new Gauge({
    name: 'hookrelay_queue_depth',
    help: 'Work waiting: queued jobs, and messages not yet delivered.',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const row of (await health())?.queues ?? []) this.set({ queue: row.queue }, row.depth);
    },
  });
  new Gauge({
    name: 'hookrelay_queue_oldest_waiting_seconds',
    help: 'Age of the oldest waiting item that is due now (an ordering key member: since it joined the key).',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      for (const row of (await health())?.queues ?? []) this.set({ queue: row.queue }, row.oldestSeconds);
    },
  });
  new Gauge({
    name: 'hookrelay_endpoints_disabled',
    help: 'Endpoints disabled (by an operator, or automatically after failing too long).',
    registers: [registry],
    async collect() {
      const figures = await health();
      if (figures) this.set(figures.disabledEndpoints);
    },
  });
  new Gauge({
    name: 'hookrelay_circuit_breakers_open',
    help: 'Endpoints whose circuit is open: attempts wait for the cooldown, then one probes.',
    registers: [registry],
    async collect() {
      const figures = await health();
      if (figures) this.set(figures.openCircuits);
    },
  });
  new Gauge({
    name: 'hookrelay_scrape_database_ok',
    help: '1 when the scrape could read queue figures from the database.',
    registers: [registry],
    async collect() {
      this.set((await health()) ? 1 : 0);
    },
  });
  return metrics;
}
