/**
 * `commune-edge indicators --period 2026-H1 [-c FILE] [--json]`: the indicator table
 * in Vietnamese (STT, Nội dung chỉ tiêu, Đơn vị tính, Chỉ tiêu, Kết quả, Đánh giá,
 * Độ phủ dữ liệu; decimal comma), or the IndicatorReport as JSON.
 *
 * It opens the store file itself (better-sqlite3, busy_timeout): the gateway may be
 * running, and WAL lets a second connection read while it writes. It first rolls up
 * the readings the gateway has not rolled up yet (one short IMMEDIATE transaction;
 * the rollup cursor makes that safe alongside the gateway's own); on a read-only
 * file it skips that and says so.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { CodedError } from '../errors.js';
import { Inventory } from '../pipeline/inventory.js';
import type { Settings } from '../settings/schema.js';
import { computeIndicators } from './engine.js';
import { localParts, parsePeriod, periodAt } from './periods.js';
import { rollupAll, type RollupStore } from './rollup.js';
import { STATUS_LABEL, type IndicatorReport, type IndicatorResult, type Target } from './types.js';

export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface IndicatorsCommand {
  settings: Settings;
  /** Period id; default: the current month. */
  periodId?: string | undefined;
  format: 'table' | 'json';
  out: Output;
  /** Messages and the progress bar (default: nowhere). */
  err?: Output;
  /** Default: Date.now(). */
  now?: number;
}

/**
 * Open the store file of `settings` for computing indicators beside a running
 * gateway (or without one), and roll up the readings not rolled up yet. Throws an
 * Error with a message for the user when there is no store. For other commands
 * too (the half-year report): `reportComputer({ settings, store, inventory, rollup: false })`.
 */
export function openIndicatorStore(settings: Settings, note: (text: string) => void = () => undefined): { store: RollupStore; close(): void } {
  const path = settings.store.path ?? resolve(settings.gateway.dataDir, 'commune-edge.db');
  if (!existsSync(path)) throw new Error(`no store at ${path}: the gateway has not run with this config yet (gateway.dataDir / store.path)`);
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const hasTables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('transitions', 'gateway_runs')").get() as { n: number };
    if (hasTables.n < 2) throw new Error(`${path} is not a commune-edge store (no transitions table)`);
    const store = { database: db };
    try {
      rollupAll(store, { timezone: settings.commune.timezone });
    } catch (e) {
      // SQLITE_READONLY (a copy on read-only media) or SQLITE_BUSY past the timeout:
      // the figures use the rollups as the gateway last wrote them.
      note(`note: readings not rolled up (${(e as Error).message}); readings-based figures as of the gateway's last rollup\n`);
    }
    return { store, close: () => db.close() };
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Returns the process exit code: 0 done, 1 no store, 2 bad period. */
export async function runIndicatorsCommand(cmd: IndicatorsCommand): Promise<number> {
  const err = cmd.err ?? { write: () => undefined };
  const { settings } = cmd;
  const tz = settings.commune.timezone;
  const now = cmd.now ?? Date.now();
  let period;
  try {
    period = cmd.periodId === undefined ? periodAt('month', now, tz) : parsePeriod(cmd.periodId, tz);
  } catch (e) {
    if (e instanceof CodedError) {
      err.write(`${e.code}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let opened;
  try {
    opened = openIndicatorStore(settings, (text) => err.write(text));
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 1;
  }
  try {
    const bar = err.isTTY ? progressBar(err) : undefined;
    const report = await computeIndicators(
      { settings, store: opened.store, inventory: new Inventory(settings), now, rollup: false, ...(bar ? { onProgress: bar } : {}) },
      period,
    );
    if (bar) err.write('\r\x1b[2K');
    cmd.out.write(cmd.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatTable(report));
    return 0;
  } finally {
    opened.close();
  }
}

function progressBar(err: Output): (p: { done: number; total: number }) => void {
  const width = 30;
  return ({ done, total }) => {
    const share = total > 0 ? done / total : 1;
    const filled = Math.round(share * width);
    err.write(`\rĐang tính chỉ tiêu [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(share * 100)}%`);
  };
}

// ---------------------------------------------------------------------------
// Vietnamese formatting: decimal comma, dot for thousands (vi-VN)
// ---------------------------------------------------------------------------

const NUMBER = new Intl.NumberFormat('vi-VN', { maximumFractionDigits: 2 });
const PERCENT2 = new Intl.NumberFormat('vi-VN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const PERCENT1 = new Intl.NumberFormat('vi-VN', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** 98.7878 → "98,79"; 1440 → "1.440". */
export function formatNumberVi(x: number, digits?: 1 | 2): string {
  return (digits === 2 ? PERCENT2 : digits === 1 ? PERCENT1 : NUMBER).format(x);
}

const isPercent = (r: IndicatorResult) => r.unit.vi.startsWith('%');

function targetText(t: Target | null, r: IndicatorResult): string {
  if (!t) return '—';
  const op = t.op === '>=' ? '≥' : '≤';
  return isPercent(r) ? `${op} ${formatNumberVi(t.value)}%` : `${op} ${formatNumberVi(t.value)} ${r.unit.vi}`;
}

function resultText(r: IndicatorResult): string {
  if (r.value === null) return '—';
  switch (r.method) {
    case 'count-at-end':
    case 'count-in-period':
      return `${formatNumberVi(r.numerator)}/${formatNumberVi(r.denominator)} (${formatNumberVi(r.value, 2)}%)`;
    case 'events':
      return `${formatNumberVi(r.value, 2)} (${formatNumberVi(r.numerator)} sự cố / ${formatNumberVi(r.denominator)} thiết bị)`;
    case 'mean-duration':
      return `${formatNumberVi(r.value, 1)} phút (${formatNumberVi(r.denominator)} sự cố)`;
    default:
      return `${formatNumberVi(r.value, 2)}%`;
  }
}

const coverageText = (c: number | null) => (c === null ? '—' : `${formatNumberVi(c * 100, 1)}%`);

const dateVi = (t: number, tz: string) => {
  const p = localParts(tz, t);
  return `${String(p.day).padStart(2, '0')}/${String(p.month).padStart(2, '0')}/${p.year}`;
};
const dateTimeVi = (t: number, tz: string) => {
  const p = localParts(tz, t);
  return `${dateVi(t, tz)} ${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
};

const width = (s: string) => [...s.normalize('NFC')].length;
const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - width(s)));

/** Word-wrap to lines of at most `w` characters. */
function wrap(s: string, w: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of s.split(/\s+/)) {
    if (line && width(line) + 1 + width(word) > w) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.length ? out : [''];
}

const NAME_WIDTH = 46;

export function formatTable(report: IndicatorReport): string {
  const tz = report.period.timezone;
  const lastDay = report.period.to - 1;
  const lines: string[] = [];
  lines.push(`KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU HẠ TẦNG SỐ — ${report.commune.name} (${report.commune.code}), ${report.commune.province.name}`);
  const until = report.partial ? `, tính đến ${dateTimeVi(Date.parse(report.generatedAt), tz)} (chưa hết kỳ)` : '';
  lines.push(`Kỳ báo cáo: ${report.period.id} (từ ${dateVi(report.period.from, tz)} đến ${dateVi(lastDay, tz)})${until}`);
  lines.push(`Thiết bị giám sát ${report.gatewayId} hoạt động ${formatNumberVi(report.gatewayCoverage * 100, 1)}% thời gian của kỳ`);
  lines.push('');
  const header = ['STT', 'Nội dung chỉ tiêu', 'Đơn vị tính', 'Chỉ tiêu', 'Kết quả', 'Đánh giá', 'Độ phủ dữ liệu'];
  const rows = report.indicators.map((r, i) => [
    String(i + 1),
    r.name.vi,
    r.unit.vi,
    targetText(r.target, r),
    resultText(r),
    STATUS_LABEL[r.status].vi,
    coverageText(r.coverage),
  ]);
  const widths = header.map((h, c) => Math.max(width(h), ...rows.map((row) => (c === 1 ? Math.min(NAME_WIDTH, width(row[c]!)) : width(row[c]!)))));
  widths[1] = Math.max(widths[1]!, ...rows.map((row) => Math.max(...wrap(row[1]!, NAME_WIDTH).map(width))));
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  lines.push(header.map((h, c) => pad(h, widths[c]!)).join(' | '));
  lines.push(rule);
  for (const row of rows) {
    const name = wrap(row[1]!, NAME_WIDTH);
    name.forEach((part, k) => {
      const cells = k === 0 ? row.map((cell, c) => (c === 1 ? part : cell)) : row.map((_, c) => (c === 1 ? part : ''));
      lines.push(cells.map((cell, c) => pad(cell, widths[c]!)).join(' | ').trimEnd());
    });
  }
  const notes = noteLines(report);
  if (notes.length) {
    lines.push('');
    lines.push('Ghi chú:');
    lines.push(...notes);
  }
  return `${lines.join('\n')}\n`;
}

function noteLines(report: IndicatorReport): string[] {
  const out: string[] = [];
  const list = (r: IndicatorResult, key: string): string[] => {
    const v = r.detail?.[key];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  };
  const hamletName = new Map<string, string>();
  for (const r of report.indicators) for (const h of r.byHamlet) hamletName.set(h.id, h.name);
  const hamlets = (ids: string[]) => ids.map((id) => hamletName.get(id) ?? id).join(', ');
  report.indicators.forEach((r, i) => {
    const n = i + 1;
    const dead = list(r, 'deadZones');
    if (dead.length) out.push(`- (${n}) Vùng lõm sóng: ${hamlets(dead)}`);
    const uncovered = list(r, 'uncovered').concat(list(r, 'withoutLoudspeaker'));
    if (uncovered.length) out.push(`- (${n}) Ấp chưa có loa hoạt động: ${hamlets(uncovered)}`);
    const devices = [...list(r, 'notConnected'), ...list(r, 'notSeen'), ...list(r, 'outOfService')];
    if (devices.length) out.push(`- (${n}) Thiết bị chưa đạt: ${devices.join(', ')}`);
  });
  return out;
}
