/**
 * Prometheus metrics (prom-client). One registry per gateway instance, so tests
 * can boot several gateways in one process. Names follow the Prometheus naming
 * guide: `ce_` prefix, base units, `_total` for counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  // The event-loop lag histogram samples on a libuv timer of this period. prom-client's
  // default (10 ms) wakes an idle gateway ~200 times a second, which cost ~0.5 % of a
  // core on the bench machine; at 100 ms every stall of 100 ms or more is still seen
  // (the timer due inside it fires late), and a shorter one does not delay a PUBACK
  // enough to matter.
  collectDefaultMetrics({ register: registry, prefix: 'ce_process_', eventLoopMonitoringPrecision: 100 });
  const m = {
    registry,
    messagesIn: new Counter({
      name: 'ce_messages_received_total',
      help: 'Messages received from devices, by transport',
      labelNames: ['transport'] as const,
      registers: [registry],
    }),
    readingsAccepted: new Counter({
      name: 'ce_readings_accepted_total',
      help: 'Readings validated and committed to the local store, by device kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'ce_messages_rejected_total',
      help: 'Messages or connections rejected, by reason (CE_* code, see docs/errors.md)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    clockRestamped: new Counter({
      name: 'ce_clock_restamped_total',
      help: 'Readings whose device timestamp was implausible and was replaced by the gateway clock',
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'ce_device_transitions_total',
      help: 'Device state transitions, by new state',
      labelNames: ['to'] as const,
      registers: [registry],
    }),
    evicted: new Counter({
      name: 'ce_store_evicted_readings_total',
      help: 'Readings evicted (oldest first) because the store reached store.maxBytes, by kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'ce_store_commit_seconds',
      help: 'Duration of one group commit (including fsync when power-safe)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    commitErrors: new Counter({
      name: 'ce_store_commit_errors_total',
      help: 'Group commits that failed (nothing in them was acknowledged)',
      registers: [registry],
    }),
    sinkPoints: new Counter({
      name: 'ce_sink_points_written_total',
      help: 'Points a sink confirmed written, by sink and stream (readings, transitions, beats)',
      labelNames: ['sink', 'stream'] as const,
      registers: [registry],
    }),
    sinkFailures: new Counter({
      name: 'ce_sink_write_failures_total',
      help: 'Failed writes by sink and kind (retry: transport/5xx, rejected: 4xx bad points)',
      labelNames: ['sink', 'kind'] as const,
      registers: [registry],
    }),
    sinkQuarantined: new Counter({
      name: 'ce_sink_quarantined_total',
      help: 'Points the server rejected as bad, set aside with their reason (GET /api/sinks/:id/quarantine)',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    sinkConnected: new Gauge({ name: 'ce_sink_connected', help: '1 when the last write reached the server', labelNames: ['sink'] as const, registers: [registry] }),
    sinkBacklog: new Gauge({ name: 'ce_sink_backlog_points', help: 'Spooled rows not yet delivered to the sink', labelNames: ['sink'] as const, registers: [registry] }),
    sinkBacklogAge: new Gauge({
      name: 'ce_sink_backlog_oldest_seconds',
      help: 'Age of the oldest undelivered row',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    sinkLastSuccess: new Gauge({
      name: 'ce_sink_last_success_timestamp_seconds',
      help: 'Unix time of the last successful write',
      labelNames: ['sink'] as const,
      registers: [registry],
    }),
    evictedUndelivered: new Gauge({
      name: 'ce_store_evicted_undelivered_readings',
      help: 'Readings evicted before every sink had them (lost to the cap), by kind, since the store was created',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    diskWritten: new Gauge({
      name: 'ce_disk_written_bytes',
      help: 'Bytes this process caused to be written to storage since it started (/proc/self/io write_bytes)',
      registers: [registry],
    }),
    storeBytes: new Gauge({ name: 'ce_store_bytes', help: 'Local store size on disk (database + WAL)', registers: [registry] }),
    storeUsedBytes: new Gauge({
      name: 'ce_store_used_bytes',
      help: 'Bytes in use inside the local store (compared with store.maxBytes)',
      registers: [registry],
    }),
    storeReadings: new Gauge({ name: 'ce_store_readings', help: 'Readings held in the local store', registers: [registry] }),
    brokerClients: new Gauge({ name: 'ce_broker_clients', help: 'MQTT clients connected to the embedded broker', registers: [registry] }),
    devices: new Gauge({
      name: 'ce_devices',
      help: 'Devices in the inventory, by current state',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
  };
  return m;
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
