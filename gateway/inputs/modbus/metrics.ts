/**
 * Prometheus metrics of the Modbus transport, on the gateway's own registry
 * (gateway/metrics.ts naming: `ce_` prefix, base units, `_total` counters). A
 * metric already on the registry (a second ModbusSource on the same gateway) is
 * reused rather than registered twice.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ModbusMetrics {
  requests: Counter<'bus' | 'slave' | 'device' | 'result'>;
  responseSeconds: Histogram<'bus'>;
  busOpen: Gauge<'bus'>;
  portOpens: Counter<'bus' | 'result'>;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function modbusMetrics(registry: Registry): ModbusMetrics {
  return {
    requests: reuse(
      registry,
      'ce_modbus_requests_total',
      () =>
        new Counter({
          name: 'ce_modbus_requests_total',
          help: 'Modbus RTU requests by bus, slave unit id, device and result (ok, timeout, crc, exception, garbled, disconnected)',
          labelNames: ['bus', 'slave', 'device', 'result'] as const,
          registers: [registry],
        }),
    ),
    responseSeconds: reuse(
      registry,
      'ce_modbus_response_seconds',
      () =>
        new Histogram({
          name: 'ce_modbus_response_seconds',
          help: 'Time from request to a valid answer (line time at the baud rate plus the slave turnaround)',
          labelNames: ['bus'] as const,
          buckets: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
          registers: [registry],
        }),
    ),
    busOpen: reuse(
      registry,
      'ce_modbus_bus_open',
      () => new Gauge({ name: 'ce_modbus_bus_open', help: '1 while the bus serial port is open', labelNames: ['bus'] as const, registers: [registry] }),
    ),
    portOpens: reuse(
      registry,
      'ce_modbus_port_opens_total',
      () =>
        new Counter({
          name: 'ce_modbus_port_opens_total',
          help: 'Serial port open attempts by bus and result (ok, failed); failures repeat with backoff while an adapter is unplugged',
          labelNames: ['bus', 'result'] as const,
          registers: [registry],
        }),
    ),
  };
}
