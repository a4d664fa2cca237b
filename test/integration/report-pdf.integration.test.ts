/**
 * The PDF report checked with poppler-utils (real tools, installed by
 * test/peers/ensure-peers.sh): rendered to an image (A4, not blank), its text
 * extracted back with the Vietnamese diacritics exactly, the font embedded.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../gateway/report/render.js';
import { SAMPLE_HAMLETS, sampleReport } from '../../gateway/report/sample.js';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });

let dir: string;
let pdf: string;
let pdfEn: string;
let text: string;
let pages: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ce-report-pdf-'));
  const report = sampleReport();
  pdf = join(dir, 'report.pdf');
  writeFileSync(pdf, (await renderReport(report, { format: 'pdf', inventory: { hamlets: SAMPLE_HAMLETS } })).body);
  pdfEn = join(dir, 'report-en.pdf');
  writeFileSync(pdfEn, (await renderReport(report, { format: 'pdf', lang: 'en' })).body);
  text = run('pdftotext', ['-layout', '-enc', 'UTF-8', pdf, '-']);
  pages = Number(/^Pages:\s+(\d+)$/m.exec(run('pdfinfo', [pdf]))![1]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Width and height from a PNG's IHDR chunk (RFC 2083 §4.1.1: after the 8-byte signature and the chunk header). */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect(b.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(b.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Share of non-white pixels of a binary PGM (P5, 8-bit), as pdftoppm -gray writes it. */
function inkShare(file: string): number {
  const b = readFileSync(file);
  const header = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(b.subarray(0, 64).toString('latin1'))!;
  const pixels = b.subarray(header[0].length);
  expect(pixels.length).toBe(Number(header[1]) * Number(header[2]));
  let ink = 0;
  for (const p of pixels) if (p < 200) ink++;
  return ink / pixels.length;
}

describe('PDF report', () => {
  it('renders page 1 as an A4 portrait image with ink on it, and the whole table pages not blank', () => {
    run('pdftoppm', ['-r', '50', '-f', '1', '-l', '1', '-png', '-singlefile', pdf, join(dir, 'page1')]);
    const { width, height } = pngSize(join(dir, 'page1.png'));
    expect(height / width).toBeCloseTo(297 / 210, 2);
    for (let p = 1; p <= pages; p++) {
      run('pdftoppm', ['-r', '40', '-f', String(p), '-l', String(p), '-gray', '-singlefile', pdf, join(dir, `g${p}`)]);
      const share = inkShare(join(dir, `g${p}.pgm`));
      // Text and table rules: a few percent of the page; a blank page is 0, a black one 1.
      expect(share, `page ${p}`).toBeGreaterThan(0.003);
      expect(share, `page ${p}`).toBeLessThan(0.5);
    }
  });

  it('extracts the Vietnamese text back exactly', () => {
    for (const s of [
      'ỦY BAN NHÂN DÂN',
      'XÃ TÀ LÀI',
      'CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM',
      'Độc lập - Tự do - Hạnh phúc',
      'Tà Lài, ngày 01 tháng 7 năm 2026',
      'BÁO CÁO',
      'KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU HẠ TẦNG SỐ 6 THÁNG ĐẦU NĂM 2026',
      '(Kỳ báo cáo: từ ngày 01/01/2026 đến ngày 30/06/2026)',
      'Nội dung chỉ tiêu',
      'Không đủ dữ liệu',
      'Chưa đạt',
      'Đạt',
      'Thời gian gateway hoạt động: 98,7%',
      'Cụm loa Ấp Đắc Lua',
      'Phòng Văn',
      'TM. ỦY BAN NHÂN DÂN',
    ]) {
      expect(text, s).toContain(s);
    }
    // Numbers in the Vietnamese convention: decimal comma, thousands dot.
    expect(text).toMatch(/\b99,5%/);
    expect(text).toMatch(/\b1\.407,0\b/);
    expect(text).not.toMatch(/\b99\.5%/);
    // Not decomposed into base letters and combining marks (NFC as typed).
    expect(text).toBe(text.normalize('NFC'));
  });

  it('numbers every page "Trang x/y" and repeats the table header after a page break', () => {
    for (let p = 1; p <= pages; p++) {
      const page = run('pdftotext', ['-layout', '-f', String(p), '-l', String(p), pdf, '-']);
      expect(page, `page ${p}`).toContain(`Trang ${p}/${pages}`);
    }
    const pageText = (p: number) => run('pdftotext', ['-layout', '-f', String(p), '-l', String(p), pdf, '-']);
    const firstLine = (p: number) => pageText(p).split('\n').find((l) => l.trim())!.trim();
    // The indicator table runs onto page 2: its header is drawn again there, above rows 9-15.
    expect(firstLine(2)).toMatch(/^STT\s+Nội dung chỉ tiêu\s+Đơn\s+Chỉ tiêu\s+Kết quả\s+Đánh giá/);
    expect(pageText(2)).toMatch(/^\s*15\s+Thời gian khắc phục[^\n]*?\s+phút\s+≤ 480\s+239,2\s+Đạt/m);
    // In the appendix, a page starts with the appendix title, a heading, or a repeated table header; never a bare row.
    const appendix = [...Array(pages).keys()].map((i) => i + 1).find((p) => pageText(p).includes('PHỤ LỤC'))!;
    expect(appendix).toBeGreaterThan(2);
    let continued = 0;
    for (let p = appendix + 1; p <= pages; p++) {
      const first = firstLine(p);
      expect(first, `page ${p}`).toMatch(/^(STT\s|[A-Z]\.\s|\d+\.\s)/);
      if (first.startsWith('STT')) continued++;
    }
    expect(continued).toBeGreaterThan(0);
  });

  it('embeds Be Vietnam Pro, subset, with a ToUnicode map', () => {
    const fonts = run('pdffonts', [pdf])
      .split('\n')
      .slice(2)
      .filter((l) => l.trim());
    expect(fonts.length).toBeGreaterThanOrEqual(2);
    for (const name of ['BeVietnamPro-Regular', 'BeVietnamPro-Bold']) {
      const line = fonts.find((l) => l.includes(name));
      expect(line, name).toBeDefined();
      // Columns: name type encoding emb sub uni ...
      expect(line!).toMatch(/CID TrueType\s+Identity-H\s+yes\s+yes\s+yes/);
    }
    // Nothing falls back to an unembedded Standard 14 font (no Vietnamese glyphs there).
    expect(fonts.every((l) => /\byes\s+yes\s+yes\b/.test(l))).toBe(true);
  });

  it('English edition: labels in English, numbers with the decimal point', () => {
    const en = run('pdftotext', ['-layout', pdfEn, '-']);
    expect(en).toContain('SOCIALIST REPUBLIC OF VIETNAM');
    expect(en).toContain('Insufficient data');
    expect(en).toContain('Not met');
    expect(en).toMatch(/\b99\.5%/);
    expect(en).toMatch(/Page 1\/\d+/);
  });
});
