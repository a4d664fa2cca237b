/**
 * Scenario builder for the indicator tests: a real Store on a temp dir, settings
 * through the real schema, and transitions, runs and readings written straight
 * into the store's tables (as the health tracker and the pipeline would).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceState } from '../devices/define.js';
import { computeIndicators } from '../gateway/indicators/engine.js';
import { parsePeriod } from '../gateway/indicators/periods.js';
import type { IndicatorReport, IndicatorResult } from '../gateway/indicators/types.js';
import { Inventory } from '../gateway/pipeline/inventory.js';
import { settingsFrom } from '../gateway/settings/load.js';
import type { Settings, SettingsInput } from '../gateway/settings/schema.js';
import { Store } from '../gateway/store/store.js';

/** An instant written in the commune's local time: t('2026-03-02 08:00') = 08:00 +07:00. */
export const t = (local: string) => Date.parse(`${local.replace(' ', 'T')}+07:00`);
export const H = 3_600_000;
export const MIN = 60_000;
export const DAY = 24 * H;

export interface DeviceSpec {
  id: string;
  kind: string;
  hamlet: string;
  role?: string;
  heartbeatS?: number;
}

export interface Scenario {
  dir: string;
  settings: Settings;
  store: Store;
  inventory: Inventory;
  transition(deviceId: string, ts: number, to: DeviceState, reason?: string, runId?: number): void;
  run(startedAt: number, lastBeatAt: number, stoppedAt: number | null): number;
  reading(deviceId: string, ts: number, fields: Record<string, unknown>): void;
  compute(periodId: string, now: number): Promise<IndicatorReport>;
  close(): Promise<void>;
}

export function scenario(hamlets: string[], devices: DeviceSpec[], extra: Partial<SettingsInput> = {}): Scenario {
  const dir = mkdtempSync(join(tmpdir(), 'ce-ind-'));
  const input: SettingsInput = {
    commune: { code: '26999', name: 'Xã Thử Nghiệm', province: { code: '75', name: 'Đồng Nai' } },
    gateway: { id: 'gw-test', dataDir: dir, heartbeatS: 30 },
    log: { level: 'silent', rejectLogIntervalS: 10 },
    hamlets: hamlets.map((id) => ({ id, name: `Ấp ${id.slice(3)}` })),
    devices: devices.map((d) => ({
      id: d.id,
      name: `Thiết bị ${d.id}`,
      kind: d.kind as never,
      hamlet: d.hamlet,
      ...(d.role ? { role: d.role } : {}),
      ...(d.heartbeatS ? { heartbeatS: d.heartbeatS } : {}),
    })),
    store: { path: join(dir, 'ce.db') },
    ...extra,
  };
  const settings = settingsFrom(input);
  const store = new Store({ path: settings.store.path!, maxBytes: 1024 ** 3, commitIntervalMs: 5, commitMaxRows: 1000, durability: 'crash-safe', rejectsKept: 10 });
  const db = store.database;
  const insT = db.prepare('INSERT INTO transitions (device_id, ts, from_state, to_state, reason, run_id) VALUES (?, ?, NULL, ?, ?, ?)');
  const insRun = db.prepare('INSERT INTO gateway_runs (started_at, last_beat_at, stopped_at) VALUES (?, ?, ?)');
  const insR = db.prepare('INSERT INTO readings (device_id, kind, ts, ts_source, received_at, quality, fields) VALUES (?, ?, ?, 0, ?, 0, ?)');
  const inventory = new Inventory(settings);
  return {
    dir,
    settings,
    store,
    inventory,
    transition: (deviceId, ts, to, reason = to === 'UNKNOWN' ? 'gateway-stopped' : 'ok', runId = 1) => void insT.run(deviceId, ts, to, reason, runId),
    run: (a, b, c) => Number(insRun.run(a, b, c).lastInsertRowid),
    reading: (deviceId, ts, fields) => {
      const kind = inventory.devices.get(deviceId)?.kind.id ?? 'unknown';
      insR.run(deviceId, kind, ts, ts, JSON.stringify(fields));
    },
    compute: (periodId, now) => computeIndicators({ settings, store, inventory, now }, parsePeriod(periodId, settings.commune.timezone)),
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function indicator(report: IndicatorReport, id: string): IndicatorResult {
  const r = report.indicators.find((i) => i.id === id);
  if (!r) throw new Error(`no indicator ${id} in the report`);
  return r;
}
