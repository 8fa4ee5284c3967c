import { type Database, type FleetGauges, HostStatus, readFleetGauges, type Telemetry, VM_STATUSES } from '@hangar/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Log } from '../logger.js';
import { RequestMetrics } from './request-metrics.js';

/** Requests: most answer in milliseconds; long-polls (waits) hold up to a minute or so. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Operations: a simulated start takes a fraction of a second, a real create with an image minutes. */
const OPERATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** VM statuses a live VM can have: each is exported, 0 when none has it, so a series does not vanish when it empties. */
const LIVE_VM_STATUSES = VM_STATUSES.filter((s) => s !== 'deleted');

/**
 * Hangar's Prometheus metrics, one registry per server: HTTP requests (recorded by the request
 * middleware), what the control plane does (through its telemetry hooks, `telemetry`), the
 * fleet's gauges (read from the database when scraped) and the process's own (prom-client's
 * default metrics: CPU, memory, event-loop lag, GC, handles).
 */
export class HangarMetrics {
  readonly registry = new Registry();
  readonly requests: RequestMetrics;
  readonly telemetry: Telemetry;
  private readonly vms: Gauge<'status'>;
  private readonly hosts: Gauge<'status'>;
  private readonly connections: Gauge<'state'>;
  private readonly queueDepth: Gauge;
  private readonly queueAge: Gauge;
  private readonly databaseUp: Gauge;

  constructor(
    private readonly database: Database,
    private readonly log: Log,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.requests = new RequestMetrics(
      new Histogram({
        name: 'hangar_http_request_duration_seconds',
        help: 'HTTP requests by procedure (tRPC procedure, or the route pattern of other routes; "unmatched" for unknown paths) and status',
        labelNames: ['procedure', 'status'],
        buckets: REQUEST_BUCKETS,
        registers,
      }),
    );

    const operations = new Counter({
      name: 'hangar_operations_total',
      help: 'Operations ended, by action and result',
      labelNames: ['action', 'result'],
      registers,
    });
    const operationSeconds = new Histogram({
      name: 'hangar_operation_duration_seconds',
      help: 'Time from an operation being queued to its end, by action and result',
      labelNames: ['action', 'result'],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    const takeovers = new Counter({
      name: 'hangar_operation_lease_takeovers_total',
      help: 'Operations claimed after the worker holding them let its lease expire (it died or hung), by action',
      labelNames: ['action'],
      registers,
    });
    const drift = new Counter({
      name: 'hangar_drift_corrections_total',
      help: 'VMs the reconciler moved to what their hypervisor shows, by the status they had and the one they got',
      labelNames: ['from', 'to'],
      registers,
    });
    const downloadsStarted = new Counter({
      name: 'hangar_image_downloads_started_total',
      help: 'Image downloads begun (a download taken over begins again)',
      registers,
    });
    const downloadsFinished = new Counter({
      name: 'hangar_image_downloads_finished_total',
      help: 'Image downloads ended, by result (abandoned: its lease was lost or this process stopped)',
      labelNames: ['result'],
      registers,
    });
    const downloadBytes = new Counter({
      name: 'hangar_image_download_bytes_total',
      help: 'Bytes received by image downloads',
      registers,
    });

    this.queueDepth = new Gauge({
      name: 'hangar_operation_queue_depth',
      help: 'Operations queued and not yet claimed by a worker',
      registers,
    });
    this.queueAge = new Gauge({
      name: 'hangar_operation_queue_oldest_age_seconds',
      help: 'How long the oldest queued operation has waited (0 when none waits)',
      registers,
    });
    this.vms = new Gauge({ name: 'hangar_vms', help: 'VMs (not deleted) by status', labelNames: ['status'], registers });
    this.hosts = new Gauge({ name: 'hangar_hosts', help: 'Hosts by status', labelNames: ['status'], registers });
    this.connections = new Gauge({
      name: 'hangar_db_connections',
      help: "Connections to PostgreSQL under Hangar's application_name, by state (pg_stat_activity: every API process's, this scrape's included)",
      labelNames: ['state'],
      registers,
    });
    new Gauge({
      name: 'hangar_db_pool_max_connections',
      help: "The most connections this process's pool opens",
      registers,
    }).set(database.sql.options.max);
    this.databaseUp = new Gauge({
      name: 'hangar_database_up',
      help: 'Whether the database answered the scrape (0: the fleet gauges are missing from it)',
      registers,
    });

    this.telemetry = {
      operationEnded: ({ action, result, duration_s }) => {
        operations.inc({ action, result });
        operationSeconds.observe({ action, result }, duration_s);
      },
      leaseTakenOver: ({ action }) => takeovers.inc({ action }),
      driftCorrected: ({ from, to }) => drift.inc({ from, to }),
      imageDownloadStarted: () => downloadsStarted.inc(),
      imageDownloadBytes: (bytes) => downloadBytes.inc(bytes),
      imageDownloadFinished: ({ result }) => downloadsFinished.inc({ result }),
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text a scrape gets: the fleet's gauges read now, then every metric. */
  async scrape(): Promise<string> {
    await this.readGauges();
    return this.registry.metrics();
  }

  /** Read first, then set at once: a scrape running beside this one never sees them half set. */
  private async readGauges(): Promise<void> {
    let g: FleetGauges;
    try {
      g = await readFleetGauges(this.database.db);
    } catch (err) {
      // The rest of the scrape (requests, the process) still says something while the database
      // is away; what only it knows is unknown (NaN), not 0 or what it was.
      this.log.warn({ err }, 'reading the fleet gauges for /metrics failed');
      this.vms.reset();
      this.hosts.reset();
      this.connections.reset();
      this.queueDepth.set(Number.NaN);
      this.queueAge.set(Number.NaN);
      this.databaseUp.set(0);
      return;
    }
    this.queueDepth.set(g.queued_operations);
    this.queueAge.set(g.oldest_queued_s);
    for (const status of LIVE_VM_STATUSES) this.vms.set({ status }, g.vms_by_status[status] ?? 0);
    for (const status of HostStatus.options) this.hosts.set({ status }, g.hosts_by_status[status] ?? 0);
    this.connections.reset();
    for (const [state, n] of Object.entries(g.connections_by_state)) this.connections.set({ state }, n);
    this.databaseUp.set(1);
  }
}
