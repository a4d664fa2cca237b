/**
 * The serial Modbus RTU input: one `BusPoller` per configured RS-485 bus (see
 * bus.ts for the polling, retry, backoff and reopen rules). Decoded register
 * values go through `ctx.pipeline.submit` with `transport: 'modbus'`: the same
 * kind schema, store and health path as an MQTT message.
 *
 * A slave that stops answering: after as many failed polls in a row as the
 * device's `missedHeartbeats` (health settings, default 3) its device is marked
 * DOWN at once (`ctx.health.observeStatus(id, false)`, reason `modbus-no-answer`). The
 * heartbeat timeout would also get there, but it counts the kind's interval (900 s
 * for soil probes, made for LoRa) unless the device's heartbeatS follows pollS.
 */
import type { GatewayContext, Source, SourceStatus } from '../../context.js';
import { RateLimitedLog } from '../../logger.js';
import { BusPoller, type BusSnapshot } from './bus.js';
import { builtinMap } from './maps.js';
import { modbusMetrics } from './metrics.js';
import { resolveMap, type ResolvedMap } from './registers.js';
import type { ModbusSettings } from './settings.js';

export class ModbusSource implements Source {
  readonly name = 'modbus';
  private buses: BusPoller[] = [];
  private started = false;

  async start(ctx: GatewayContext): Promise<void> {
    const settings: ModbusSettings | undefined = ctx.settings.modbus;
    if (!settings || this.started) return;
    this.started = true;
    const metrics = modbusMetrics(ctx.metrics.registry);
    const log = new RateLimitedLog(ctx.log, ctx.settings.log.rejectLogIntervalS * 1000);
    const custom = new Map<string, ResolvedMap>(Object.entries(settings.maps).map(([id, m]) => [id, resolveMap(id, m)]));

    for (const bus of settings.buses) {
      const maps: ResolvedMap[] = [];
      const downAfter: number[] = [];
      const slaves = [];
      for (const slave of bus.slaves) {
        const map = custom.get(slave.map) ?? builtinMap(slave.map);
        const device = ctx.inventory.devices.get(slave.device);
        if (!map || !device) {
          // The settings check refuses these; kept as a guard for settings built in code.
          ctx.log.error({ bus: bus.id, unit: slave.unitId, device: slave.device, map: slave.map }, 'modbus: slave skipped (unknown device or map)');
          continue;
        }
        if (device.timeoutMs < slave.pollS * 1000) {
          ctx.log.warn(
            { bus: bus.id, device: slave.device, pollS: slave.pollS, heartbeatTimeoutS: device.timeoutMs / 1000 },
            `modbus: ${slave.device} is polled every ${slave.pollS} s but its heartbeat timeout is ${device.timeoutMs / 1000} s: it would go DOWN between polls; set its heartbeatS to pollS or more`,
          );
        }
        maps.push(map);
        slaves.push(slave);
        const missed = ctx.settings.health.kinds[device.kind.id as keyof typeof ctx.settings.health.kinds]?.missedHeartbeats ?? ctx.settings.health.missedHeartbeats;
        downAfter.push(Math.max(1, Math.ceil(missed)));
      }
      const poller = new BusPoller({
        ctx,
        bus: { ...bus, slaves },
        maps,
        metrics,
        log,
        downAfter,
      });
      this.buses.push(poller);
      poller.start();
    }
    ctx.log.info(
      { buses: settings.buses.map((b) => ({ id: b.id, port: b.port, baudRate: b.baudRate, slaves: b.slaves.length })) },
      `modbus: polling ${settings.buses.length} bus(es)`,
    );
  }

  async stop(): Promise<void> {
    const buses = this.buses;
    this.buses = [];
    await Promise.all(buses.map((b) => b.stop()));
  }

  status(): SourceStatus {
    if (this.buses.length === 0) return { name: this.name, connected: false, detail: 'no buses configured' };
    return {
      name: this.name,
      connected: this.buses.every((b) => b.isOpen()),
      detail: this.buses.map((b) => b.summary()).join('; '),
    };
  }

  /** Per bus and slave counters and state (tests, the bench, future API use). */
  snapshot(): BusSnapshot[] {
    return this.buses.map((b) => b.snapshot());
  }
}
