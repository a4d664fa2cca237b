/**
 * ModbusSource without a bus: the serial port does not exist (an adapter that is
 * not plugged in). No fake stands in: opening a missing path fails with ENOENT in
 * serialport itself. The source must start at once, report the bus disconnected,
 * keep retrying with backoff, mark its probes DOWN, and stop cleanly.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusSource } from '../gateway/inputs/modbus/source.js';
import type { SettingsInput } from '../gateway/settings/schema.js';
import { metric, removeDir, startTestGateway, until, type TestGateway } from './helpers/gateway.js';

describe('ModbusSource with its USB adapter unplugged', () => {
  let t: TestGateway | undefined;
  let source: ModbusSource | undefined;
  afterEach(async () => {
    await source?.stop();
    await t?.close();
    if (t) removeDir(t.dir);
    t = undefined;
    source = undefined;
  });

  const settings = (port: string) => (s: SettingsInput): SettingsInput => ({
    ...s,
    devices: [
      ...(s.devices ?? []),
      { id: 'dat-01', name: 'Cảm biến 1', kind: 'soil_probe', hamlet: 'ap-01', role: 'farm' },
      { id: 'dat-02', name: 'Cảm biến 2', kind: 'soil_probe', hamlet: 'ap-01', role: 'farm' },
    ],
    modbus: {
      buses: [
        {
          id: 'farm-1',
          port,
          reopenMinMs: 100,
          reopenMaxMs: 400,
          slaves: [
            { device: 'dat-01', unitId: 1, map: 'cwt-7in1', pollS: 0.2 },
            { device: 'dat-02', unitId: 2, map: 'sensecap-3in1', pollS: 0.2 },
          ],
        },
      ],
    },
  });

  it('starts at once, shows the bus disconnected, retries with backoff, marks its probes DOWN, and stops cleanly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ce-modbus-'));
    // The gateway loads the Modbus source because `modbus:` is configured, and its start does not wait for the port.
    const t0 = Date.now();
    t = await startTestGateway(settings(join(dir, 'no-such-ttyUSB0')), {}, dir);
    expect(Date.now() - t0).toBeLessThan(5000);
    source = t.gw.sources.find((x): x is ModbusSource => x instanceof ModbusSource)!;
    expect(source).toBeDefined();

    await until(() => source!.status().detail?.includes('disconnected'), 3000, 'bus disconnected');
    const status = source.status();
    expect(status.connected).toBe(false);
    expect(status.detail).toMatch(/^bus farm-1 \(.*no-such-ttyUSB0\): disconnected \(.*No such file or directory.*\), reopening in \d+ s$/);

    const failedOpens = async () => metric(await t!.gw.ctx.metrics.registry.metrics(), 'ce_modbus_port_opens_total{bus="farm-1",result="failed"}');
    await until(async () => (await failedOpens()) >= 3, 5000, 'three failed open attempts');

    // Polls that cannot be sent count as failures: the probes are not being read.
    await until(() => t!.gw.ctx.health.get('dat-01')!.state === 'DOWN' && t!.gw.ctx.health.get('dat-02')!.state === 'DOWN', 5000, 'probes DOWN');
    expect(t.gw.ctx.health.get('dat-01')!.reason).toBe('modbus-no-answer');
    const text = await t.gw.ctx.metrics.registry.metrics();
    expect(metric(text, 'ce_modbus_requests_total{bus="farm-1",slave="1",device="dat-01",result="disconnected"}')).toBeGreaterThanOrEqual(3);
    expect(metric(text, 'ce_modbus_bus_open{bus="farm-1"}')).toBe(0);
    expect(t.gw.ctx.health.get('ups-01')!.state, 'other devices untouched').toBe('UNKNOWN');

    const s0 = Date.now();
    await source.stop();
    expect(Date.now() - s0).toBeLessThan(1000);
    // Nothing keeps running after stop: no more open attempts.
    const after = await failedOpens();
    await new Promise((r) => setTimeout(r, 600));
    expect(await failedOpens()).toBe(after);
  });

  it('does nothing without a modbus section', async () => {
    t = await startTestGateway();
    expect(t.gw.sources.some((x) => x instanceof ModbusSource), 'not loaded when not configured').toBe(false);
    source = new ModbusSource();
    await source.start(t.gw.ctx);
    expect(source.status()).toStrictEqual({ name: 'modbus', connected: false, detail: 'no buses configured' });
    expect(await t.gw.ctx.metrics.registry.metrics()).not.toContain('ce_modbus_requests_total');
  });
});
