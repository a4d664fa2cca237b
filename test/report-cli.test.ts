/**
 * `runReportCommand`: progress on stderr (redrawn line on a TTY, a line per 10 %
 * otherwise), the file written, its path and a summary on stdout, coded errors.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CodedError } from '../gateway/errors.js';
import { ProgressBar, runReportCommand, type ComputeReport } from '../gateway/report/cli.js';
import { sampleReport } from '../gateway/report/sample.js';

class Capture {
  chunks: string[] = [];
  write(s: string) {
    this.chunks.push(s);
    return true;
  }
  get text() {
    return this.chunks.join('');
  }
}

/** An engine that reports progress in `steps` steps, as the indicators engine does per device. */
function engine(steps: number, onStep?: (i: number) => void): ComputeReport & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (periodId: string, onProgress: (f: number, label: string) => void) => {
    calls.push(periodId);
    for (let i = 1; i <= steps; i++) {
      onStep?.(i);
      onProgress(i / steps, `thiết bị ${i}/${steps}`);
    }
    return sampleReport();
  };
  return Object.assign(fn, { calls });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ce-report-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('runReportCommand', () => {
  it('on a TTY redraws one line in place, throttled, and ends it with a newline', async () => {
    let clock = 0;
    const compute = engine(2000, () => (clock += 1)); // 2000 steps, 1 ms each: 2 s of work
    const stdout = new Capture();
    const stderr = new Capture();
    const out = join(dir, 'bc.xlsx');
    const result = await runReportCommand({ computeReport: compute, periodId: '2026-H1', format: 'xlsx', outPath: out, stderrIsTTY: true, stdout, stderr, columns: 100, now: () => clock });
    expect(result.exitCode).toBe(0);
    expect(compute.calls).toEqual(['2026-H1']);
    const draws = stderr.chunks.filter((c) => c.startsWith('\r'));
    // 2 s at one redraw per 100 ms, plus the first, the render phase and 100 %: far fewer than 2000.
    expect(draws.length).toBeGreaterThan(10);
    expect(draws.length).toBeLessThan(30);
    for (const d of draws) {
      expect(d.startsWith('\r\x1b[2K')).toBe(true);
      expect(d).not.toContain('\n');
      expect(d.length - 5).toBeLessThanOrEqual(99);
    }
    const percents = draws.map((d) => Number(/(\d+)%/.exec(d)![1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(draws.at(-1)).toContain('100% xong');
    // The engine's 100 % is 90 % of the bar: rendering and writing remain.
    expect(draws.some((d) => d.includes(' 90% đang tạo tệp XLSX'))).toBe(true);
    expect(stderr.text.endsWith('\n')).toBe(true);

    expect(existsSync(out)).toBe(true);
    expect(readFileSync(out).subarray(0, 2).toString()).toBe('PK');
    const [path, summary, rest] = stdout.text.split('\n');
    expect(path).toBe(out);
    expect(summary).toMatch(/^Xã Tà Lài, kỳ 2026-H1: 15 chỉ tiêu — 13 Đạt, 1 Chưa đạt, 1 Không đủ dữ liệu; gateway hoạt động 98,7% thời gian \(\d+,\d kB\)$/);
    expect(rest).toBe('');
    expect(readdirSync(dir)).toEqual(['bc.xlsx']);
  });

  it('without a TTY writes a plain line per 10 %, no carriage returns', async () => {
    const stderr = new Capture();
    const stdout = new Capture();
    const result = await runReportCommand({ computeReport: engine(500), periodId: '2026-H1', format: 'csv', outPath: join(dir, 'a.csv'), stderrIsTTY: false, stdout, stderr });
    expect(result.exitCode).toBe(0);
    expect(stderr.text).not.toContain('\r');
    const lines = stderr.text.trimEnd().split('\n');
    const percents = lines.map((l) => Number(/^Báo cáo: (\d+)% /.exec(l)![1]));
    expect(percents).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  });

  it('survives an engine that reports nonsense progress', async () => {
    const stderr = new Capture();
    const compute: ComputeReport = (_p, onProgress) => {
      onProgress(0.5, 'a');
      onProgress(Number.NaN, 'b');
      onProgress(0.2, 'backwards');
      onProgress(7, 'past the end');
      return sampleReport();
    };
    const result = await runReportCommand({ computeReport: compute, periodId: '2026-H1', format: 'csv', outPath: join(dir, 'b.csv'), stderrIsTTY: false, stdout: new Capture(), stderr });
    expect(result.exitCode).toBe(0);
    const percents = stderr.text.trimEnd().split('\n').map((l) => Number(/(\d+)%/.exec(l)![1]));
    expect(percents).toEqual([0, 45, 90, 100]);
  });

  it('writes to the suggested file name when no path is given', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const stdout = new Capture();
      const result = await runReportCommand({ computeReport: engine(1), periodId: '2026-H1', format: 'csv', stderrIsTTY: false, stdout, stderr: new Capture() });
      expect(result.path).toBe(join(dir, 'bao-cao-ha-tang-so-26999-2026-H1.csv'));
      expect(existsSync(result.path!)).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a bad period from the engine exits 2 with its code; nothing is written', async () => {
    const stderr = new Capture();
    const stdout = new Capture();
    const compute: ComputeReport = () => {
      throw new CodedError('CE_BAD_REQUEST', 'period "2026-H3"');
    };
    const result = await runReportCommand({ computeReport: compute, periodId: '2026-H3', format: 'pdf', outPath: join(dir, 'x.pdf'), stderrIsTTY: true, stdout, stderr, columns: 80 });
    expect(result.exitCode).toBe(2);
    expect(stderr.text).toMatch(/\nCE_BAD_REQUEST: .*period "2026-H3"\n$/);
    expect(stdout.text).toBe('');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unwritable path exits 1 with CE_REPORT_WRITE and leaves no temporary file', async () => {
    const stderr = new Capture();
    const out = join(dir, 'missing-dir', 'bc.pdf');
    const result = await runReportCommand({ computeReport: engine(1), periodId: '2026-H1', format: 'csv', outPath: out, stderrIsTTY: false, stdout: new Capture(), stderr });
    expect(result.exitCode).toBe(1);
    expect(stderr.text).toContain('CE_REPORT_WRITE');
    expect(stderr.text).toContain(out);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('ProgressBar', () => {
  it('never wraps a narrow terminal', () => {
    const s = new Capture();
    const bar = new ProgressBar({ stream: s, tty: true, columns: 40, now: () => 0, title: 'Báo cáo' });
    bar.update(0.5, 'một nhãn rất dài '.repeat(10));
    expect(s.chunks[0]!.slice(5).length).toBeLessThanOrEqual(39);
    expect(s.chunks[0]!.endsWith('…')).toBe(true);
  });
});
