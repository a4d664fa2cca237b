/**
 * The CSV report parsed back with an RFC 4180 reader written here (not the
 * writer's code): BOM, ";" separator, decimal comma, quoting, CRLF.
 */
import { describe, expect, it } from 'vitest';
import type { IndicatorReport } from '../gateway/indicators/types.js';
import { renderReport } from '../gateway/report/render.js';
import { SAMPLE_HAMLETS, sampleReport } from '../gateway/report/sample.js';

/** RFC 4180 §2: records end in CRLF; a field may be quoted; "" inside quotes is one quote. */
function parseCsv(text: string, sep: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === sep) {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') throw new Error(`bare line break at ${i}`);
    else field += c;
  }
  if (quoted) throw new Error('unterminated quote');
  if (field !== '' || record.length) throw new Error('last record without CRLF');
  return records;
}

async function csv(report: IndicatorReport, o: { lang?: 'vi' | 'en'; csvTable?: 'indicators' | 'devices' | 'hamlets' } = {}) {
  const out = await renderReport(report, { format: 'csv', inventory: { hamlets: SAMPLE_HAMLETS }, ...o });
  return { out, bytes: out.body, text: out.body.toString('utf8') };
}

const viNumber = (s: string) => {
  expect(s).toMatch(/^-?\d+(,\d+)?$/);
  return Number(s.replace(',', '.'));
};

describe('CSV report (vi)', () => {
  it('starts with the UTF-8 BOM and ends every record with CRLF', async () => {
    const { bytes, text, out } = await csv(sampleReport());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(out.contentType).toBe('text/csv; charset=utf-8; header=present');
    expect(out.fileName).toBe('bao-cao-ha-tang-so-26999-2026-H1.csv');
  });

  it('has the plan columns and one record per indicator, numbers with the decimal comma', async () => {
    const report = sampleReport();
    const { text } = await csv(report);
    const [header, ...rows] = parseCsv(text.slice(1), ';');
    expect(header).toEqual(['STT', 'Nội dung chỉ tiêu', 'Đơn vị tính', 'Chỉ tiêu', 'Kết quả', 'Đánh giá', 'Đơn vị theo dõi', 'Độ phủ dữ liệu (%)', 'Ghi chú']);
    expect(rows).toHaveLength(report.indicators.length);
    report.indicators.forEach((ind, i) => {
      const row = rows[i]!;
      expect(row).toHaveLength(9);
      expect(row[0]).toBe(String(i + 1));
      expect(row[1]).toBe(ind.name.vi);
      expect(viNumber(row[4]!)).toBeCloseTo(ind.value!, 2);
      if (ind.coverage === null) expect(row[7]).toBe('');
      else expect(viNumber(row[7]!)).toBeCloseTo(ind.coverage * 100, 2);
    });
    const onestop = rows[report.indicators.findIndex((i) => i.id === 'onestop_camera_availability')]!;
    // 61 418 055 600 / 61 711 200 000 ms = 99,5249…%
    expect(onestop[4]).toBe('99,52');
    expect(onestop[3]).toBe('≥ 99%');
    expect(onestop[5]).toBe('Đạt');
    expect(rows.map((r) => r[5])).toContain('Không đủ dữ liệu');
    expect(rows.map((r) => r[5])).toContain('Chưa đạt');
  });

  it('quotes a name holding the separator and a quote, and it parses back intact', async () => {
    const report = sampleReport();
    const tricky = 'Loa "thông minh"; ấp Đắc Lua\nđợt 2';
    report.indicators[0]!.name.vi = tricky;
    report.indicators[1]!.responsibleUnit = 'Phòng VH-XH, Bưu điện xã';
    const { text } = await csv(report);
    expect(text).toContain('"Loa ""thông minh""; ấp Đắc Lua\nđợt 2"');
    // A comma is not the separator in the vi edition: no quotes needed.
    expect(text).toContain(';Phòng VH-XH, Bưu điện xã;');
    const rows = parseCsv(text.slice(1), ';');
    expect(rows[1]![1]).toBe(tricky);
    expect(rows[2]![6]).toBe('Phòng VH-XH, Bưu điện xã');
    expect(rows.every((r) => r.length === 9)).toBe(true);
  });

  it('defuses text that Excel would run as a formula (CSV injection)', async () => {
    const report = sampleReport();
    report.indicators[0]!.name.vi = '=HYPERLINK("http://x")';
    const rows = parseCsv((await csv(report)).text.slice(1), ';');
    expect(rows[1]![1]).toBe('\'=HYPERLINK("http://x")');
  });

  it('writes the device and hamlet tables as separate files', async () => {
    const report = sampleReport();
    const devices = await csv(report, { csvTable: 'devices' });
    expect(devices.out.fileName).toBe('bao-cao-ha-tang-so-26999-2026-H1-thiet-bi.csv');
    const [dh, ...drows] = parseCsv(devices.text.slice(1), ';');
    expect(dh!.slice(0, 7)).toEqual(['STT', 'Loại thiết bị', 'Thiết bị', 'Mã thiết bị', 'Ấp', 'Vai trò', 'Tỷ lệ hoạt động (%)']);
    const ids = new Set(report.indicators.flatMap((i) => i.byDevice.map((d) => d.id)));
    expect(drows).toHaveLength(ids.size);
    expect(new Set(drows.map((r) => r[3]))).toEqual(ids);
    const loa = drows.find((r) => r[3] === 'loa-08')!;
    const d = report.indicators[0]!.byDevice.find((x) => x.id === 'loa-08')!;
    expect(loa[1]).toBe('Cụm loa truyền thanh thông minh');
    expect(viNumber(loa[7]!)).toBeCloseTo(d.upMs / 3_600_000, 2);

    const hamlets = await csv(report, { csvTable: 'hamlets' });
    const [, ...hrows] = parseCsv(hamlets.text.slice(1), ';');
    expect(hrows.map((r) => r[1])).toEqual(SAMPLE_HAMLETS.map((h) => h.name));
  });
});

describe('CSV report (en)', () => {
  it('uses the comma separator and the decimal point', async () => {
    const report = sampleReport();
    const { text } = await csv(report, { lang: 'en' });
    const [header, ...rows] = parseCsv(text.slice(1), ',');
    expect(header![1]).toBe('Indicator');
    const onestop = rows[report.indicators.findIndex((i) => i.id === 'onestop_camera_availability')]!;
    expect(onestop[4]).toBe('99.52');
    expect(onestop[5]).toBe('Met');
    // Notes hold commas in English: quoted, and still 9 fields.
    expect(rows.every((r) => r.length === 9)).toBe(true);
  });
});
