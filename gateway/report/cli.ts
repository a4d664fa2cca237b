/**
 * `commune-edge report --period 2026-H1 --format xlsx|csv|pdf [-o FILE]`: compute
 * the indicators (the engine reports its progress), render, write the file, print
 * its path and a one-line summary. A half-year of a large commune takes a while on
 * a Pi, so a progress bar runs on stderr: one line redrawn in place on a terminal,
 * a line every 10 % when stderr is a file or a pipe (cron, systemd), so logs stay
 * readable.
 */
import { rename, unlink, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CodedError } from '../errors.js';
import { STATUS_LABEL, type IndicatorReport } from '../indicators/types.js';
import type { CsvTable } from './csv.js';
import { formatNumber, formatPercent, type ReportLang } from './format.js';
import type { ReportInventory } from './model.js';
import type { ReportFormat } from './render.js';

/** The engine's progress callback: fraction 0..1 of the work done, and what it is doing. */
export type ProgressFn = (fraction: number, label: string) => void;

export type ComputeReport = (periodId: string, onProgress: ProgressFn) => Promise<IndicatorReport> | IndicatorReport;

interface TextSink {
  write(text: string): unknown;
}

export interface ReportCommand {
  computeReport: ComputeReport;
  periodId: string;
  format: ReportFormat;
  /** Where to write; default the suggested file name in the working directory. */
  outPath?: string;
  stderrIsTTY: boolean;
  lang?: ReportLang;
  inventory?: ReportInventory;
  csvTable?: CsvTable;
  /** Default process.stdout / process.stderr (tests pass their own). */
  stdout?: TextSink;
  stderr?: TextSink;
  /** Terminal width for the bar; default process.stderr.columns or 80. */
  columns?: number;
  /** Monotonic milliseconds, for throttling the redraw; default performance.now. */
  now?: () => number;
}

export interface ReportCommandResult {
  /** 0 written; 2 bad input (period id); 1 anything else. */
  exitCode: number;
  path?: string;
  bytes?: number;
  summary?: string;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** Share of the bar for the engine's work; rendering and writing take the rest. */
const COMPUTE_SHARE = 0.9;
/** A terminal redraw at most every 100 ms: enough to look alive, cheap over SSH. */
const REDRAW_MS = 100;

export class ProgressBar {
  private shown = -1;
  private lastDraw = -Infinity;
  private lastStep = -1;
  private drawn = false;
  private readonly o: { stream: TextSink; tty: boolean; columns: number; now: () => number; title: string };

  constructor(o: { stream: TextSink; tty: boolean; columns: number; now: () => number; title: string }) {
    this.o = o;
  }

  /**
   * Never moves backwards; NaN and out-of-range values are clamped (an engine bug
   * must not break the CLI). `force` draws a new phase even inside the throttle.
   */
  update(fraction: number, label: string, force = false): void {
    const value = Math.max(this.shown, clamp01(fraction));
    this.shown = value;
    const pct = Math.floor(value * 100);
    if (this.o.tty) {
      const t = this.o.now();
      if (!force && t - this.lastDraw < REDRAW_MS && value < 1) return;
      this.lastDraw = t;
      const barWidth = 24;
      const filled = Math.round(value * barWidth);
      let line = `${this.o.title} [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}] ${String(pct).padStart(3)}% ${label}`;
      // Never wrap: a wrapped line cannot be redrawn with \r.
      if (line.length > this.o.columns - 1) line = `${line.slice(0, Math.max(0, this.o.columns - 2))}…`;
      // \r back to column 0, ESC [2K (ECMA-48 §8.3.41 EL, "erase in line") clears what a longer label left.
      this.o.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      const step = Math.floor(pct / 10);
      if (step <= this.lastStep) return;
      this.lastStep = step;
      this.o.stream.write(`${this.o.title}: ${pct}% ${label}\n`);
    }
  }

  /** Ends the bar's line so what follows starts clean. */
  finish(): void {
    if (this.o.tty && this.drawn) this.o.stream.write('\n');
    this.drawn = false;
  }
}

function formatBytes(n: number, lang: ReportLang): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${formatNumber(n / 1024, lang, { decimals: 1 })} kB`;
  return `${formatNumber(n / 1024 / 1024, lang, { decimals: 1 })} MB`;
}

export function reportSummary(report: IndicatorReport, lang: ReportLang): string {
  const counts = { DAT: 0, CHUA_DAT: 0, KHONG_DU_DU_LIEU: 0 };
  for (const i of report.indicators) counts[i.status]++;
  const statuses = (Object.keys(counts) as (keyof typeof counts)[]).map((s) => `${counts[s]} ${STATUS_LABEL[s][lang]}`).join(', ');
  const gw = formatPercent(report.gatewayCoverage, lang, { fraction: true });
  return lang === 'vi'
    ? `${report.commune.name}, kỳ ${report.period.id}${report.partial ? ' (chưa kết thúc)' : ''}: ${report.indicators.length} chỉ tiêu — ${statuses}; gateway hoạt động ${gw} thời gian`
    : `${report.commune.name}, period ${report.period.id}${report.partial ? ' (not over yet)' : ''}: ${report.indicators.length} indicators — ${statuses}; gateway running ${gw} of the time`;
}

/** Write beside the target, then rename: a crash or a full disk never leaves half a report under the final name. */
async function writeAtomically(path: string, body: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, body);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new CodedError('CE_REPORT_WRITE', `${path}: ${(err as Error).message}`);
  }
}

export async function runReportCommand(cmd: ReportCommand): Promise<ReportCommandResult> {
  const lang = cmd.lang ?? 'vi';
  const stdout = cmd.stdout ?? process.stdout;
  const stderr = cmd.stderr ?? process.stderr;
  const bar = new ProgressBar({
    stream: stderr,
    tty: cmd.stderrIsTTY,
    columns: cmd.columns ?? process.stderr.columns ?? 80,
    now: cmd.now ?? (() => performance.now()),
    title: lang === 'vi' ? 'Báo cáo' : 'Report',
  });
  try {
    bar.update(0, lang === 'vi' ? 'đang tính các chỉ tiêu' : 'computing indicators', true);
    const report = await cmd.computeReport(cmd.periodId, (fraction, label) => bar.update(clamp01(fraction) * COMPUTE_SHARE, label));
    bar.update(COMPUTE_SHARE, lang === 'vi' ? `đang tạo tệp ${cmd.format.toUpperCase()}` : `rendering ${cmd.format.toUpperCase()}`, true);
    // exceljs and pdfkit load only here (~45 MB, ~0.5 s), so importing this module costs nothing.
    const { renderReport } = await import('./render.js');
    const rendered = await renderReport(report, {
      format: cmd.format,
      lang,
      ...(cmd.inventory ? { inventory: cmd.inventory } : {}),
      ...(cmd.csvTable ? { csvTable: cmd.csvTable } : {}),
    });
    const path = resolve(cmd.outPath ?? rendered.fileName);
    await writeAtomically(path, rendered.body);
    bar.update(1, lang === 'vi' ? 'xong' : 'done', true);
    bar.finish();
    const summary = `${reportSummary(report, lang)} (${formatBytes(rendered.body.length, lang)})`;
    stdout.write(`${path}\n${summary}\n`);
    return { exitCode: 0, path, bytes: rendered.body.length, summary };
  } catch (err) {
    bar.finish();
    const coded = err instanceof CodedError ? err : undefined;
    stderr.write(`${coded ? `${coded.code}: ` : ''}${(err as Error).message}\n`);
    return { exitCode: coded && coded.status < 500 ? 2 : 1 };
  }
}
