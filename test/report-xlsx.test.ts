/**
 * The XLSX report read back with exceljs: sheets, the national header block, the
 * plan's columns, numeric cells with their number formats, status fills, one row
 * per indicator and per device.
 */
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { STATUS_LABEL, type IndicatorReport, type Period } from '../gateway/indicators/types.js';
import { buildReportModel, communeDisplayName, periodPhrase } from '../gateway/report/model.js';
import { renderReport } from '../gateway/report/render.js';
import { SAMPLE_HAMLETS, sampleReport } from '../gateway/report/sample.js';
import { STATUS_FILL } from '../gateway/report/xlsx.js';

const PLAN_COLUMNS = ['STT', 'Nội dung chỉ tiêu', 'Đơn vị tính', 'Chỉ tiêu', 'Kết quả', 'Đánh giá', 'Đơn vị theo dõi', 'Độ phủ dữ liệu', 'Ghi chú'];
const HEADER_ROW = 7;

async function load(report: IndicatorReport, lang: 'vi' | 'en' = 'vi'): Promise<ExcelJS.Workbook> {
  const out = await renderReport(report, { format: 'xlsx', lang, inventory: { hamlets: SAMPLE_HAMLETS } });
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(out.body as unknown as ArrayBuffer);
  return wb;
}

/** Data rows under a header row: consecutive rows with a numeric STT in column A. */
function dataRows(ws: ExcelJS.Worksheet, headerRow: number): ExcelJS.Row[] {
  const rows: ExcelJS.Row[] = [];
  for (let r = headerRow + 1; typeof ws.getRow(r).getCell(1).value === 'number'; r++) rows.push(ws.getRow(r));
  return rows;
}

const uniqueDevices = (report: IndicatorReport) => new Set(report.indicators.flatMap((i) => i.byDevice.map((d) => d.id)));

describe('XLSX report', () => {
  const report = sampleReport();
  let wb: ExcelJS.Workbook;
  beforeAll(async () => {
    wb = await load(report);
  });

  it('has the indicator sheet first, a sheet per device kind, then by-hamlet and data coverage', () => {
    expect(wb.worksheets.map((w) => w.name)).toEqual([
      'Chỉ tiêu',
      'Loa truyền thanh',
      'Camera',
      'Mạng - đường truyền',
      'Wi-Fi',
      'Cảm biến đất',
      'Hội nghị truyền hình',
      'Nguồn điện - UPS',
      'Máy tính',
      'Theo ấp',
      'Độ phủ dữ liệu',
    ]);
  });

  it('starts with the header block of a UBND xã document and a title worded from the period', () => {
    const ws = wb.getWorksheet('Chỉ tiêu')!;
    expect(ws.getCell('A1').value).toBe('ỦY BAN NHÂN DÂN');
    expect(ws.getCell('A2').value).toBe('XÃ TÀ LÀI');
    expect(ws.getCell('A3').value).toMatch(/^Số:\s+\/BC-UBND$/);
    expect(ws.getCell('E1').value).toBe('CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM');
    expect(ws.getCell('E2').value).toBe('Độc lập - Tự do - Hạnh phúc');
    expect(ws.getCell('E2').font.underline).toBe(true);
    expect(ws.getCell('E3').value).toBe('Tà Lài, ngày 01 tháng 7 năm 2026');
    expect(ws.getCell('A4').value).toBe('BÁO CÁO KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU HẠ TẦNG SỐ 6 THÁNG ĐẦU NĂM 2026');
    expect(ws.getCell('A5').value).toBe('(Kỳ báo cáo: từ ngày 01/01/2026 đến ngày 30/06/2026) — Thời điểm lập báo cáo: 08:15 01/07/2026');
    expect(String(ws.getCell('A6').value)).toContain('hoạt động 98,7% thời gian của kỳ báo cáo');
    // Merged across the table's width, not spilling over empty cells.
    expect(ws.getCell('I4').isMerged).toBe(true);
  });

  it('has exactly the plan columns, a frozen header and one row per indicator', () => {
    const ws = wb.getWorksheet('Chỉ tiêu')!;
    const header = ws.getRow(HEADER_ROW);
    expect(PLAN_COLUMNS.map((_, i) => header.getCell(i + 1).value)).toEqual(PLAN_COLUMNS);
    expect(header.getCell(1).font.bold).toBe(true);
    expect(header.getCell(2).border.bottom?.style).toBe('thin');
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: HEADER_ROW });
    const rows = dataRows(ws, HEADER_ROW);
    expect(rows).toHaveLength(report.indicators.length);
    expect(rows.map((r) => r.getCell(1).value)).toEqual(report.indicators.map((_, i) => i + 1));
    expect(ws.getRow(HEADER_ROW + report.indicators.length + 1).getCell(2).value).toBeNull();
  });

  it('keeps numbers numeric with number formats, and text where text belongs', () => {
    const ws = wb.getWorksheet('Chỉ tiêu')!;
    const rows = dataRows(ws, HEADER_ROW);
    report.indicators.forEach((ind, i) => {
      const row = rows[i]!;
      expect(row.getCell(2).value).toBe(ind.name.vi);
      expect(row.getCell(3).value).toBe(ind.unit.vi);
      expect(row.getCell(7).value).toBe(ind.responsibleUnit);
      const value = row.getCell(5);
      expect(typeof value.value).toBe('number');
      expect(value.value as number).toBeCloseTo(ind.value!, 9);
      expect(value.numFmt).toBe(ind.unit.vi.startsWith('%') ? '0.0"%"' : '#,##0.0');
      const target = row.getCell(4);
      expect(target.value).toBe(ind.target!.value);
      const coverage = row.getCell(8);
      if (ind.coverage === null) expect(coverage.value).toBe('—');
      else {
        expect(coverage.value as number).toBeCloseTo(ind.coverage * 100, 9);
        expect(coverage.numFmt).toBe('0.0"%"');
      }
    });
    const byId = (id: string) => rows[report.indicators.findIndex((i) => i.id === id)]!;
    expect(byId('loudspeaker_availability').getCell(4).numFmt).toBe('"≥ "0"%"');
    expect(byId('tslcd_availability').getCell(4).numFmt).toBe('"≥ "0.0"%"');
    expect(byId('mttr').getCell(4).numFmt).toBe('"≤ "0');
    expect(String(byId('cellular_coverage_hamlets').getCell(9).value)).toContain('Vùng lõm sóng: Ấp Đắc Lua, Ấp Suối Đá');
    expect(String(byId('onestop_camera_ioc').getCell(9).value)).toContain('3 / 4 tại thời điểm cuối kỳ');
  });

  it('colours the evaluation: Đạt green, Chưa đạt red, Không đủ dữ liệu grey', () => {
    const ws = wb.getWorksheet('Chỉ tiêu')!;
    const rows = dataRows(ws, HEADER_ROW);
    const seen = new Set<string>();
    report.indicators.forEach((ind, i) => {
      const cell = rows[i]!.getCell(6);
      expect(cell.value).toBe(STATUS_LABEL[ind.status].vi);
      expect(cell.fill).toMatchObject({ type: 'pattern', pattern: 'solid', fgColor: { argb: STATUS_FILL[ind.status].fill } });
      expect(cell.font.color?.argb).toBe(STATUS_FILL[ind.status].font);
      seen.add(ind.status);
    });
    expect([...seen].sort()).toEqual(['CHUA_DAT', 'DAT', 'KHONG_DU_DU_LIEU']);
    expect(STATUS_FILL.DAT.fill).toBe('FFC6EFCE');
    expect(STATUS_FILL.CHUA_DAT.fill).toBe('FFFFC7CE');
    expect(STATUS_FILL.KHONG_DU_DU_LIEU.fill).toBe('FFD9D9D9');
  });

  it('lists every device once, in its kind sheet, with hours as numbers', () => {
    const kindSheets = wb.worksheets.slice(1, -2);
    const ids: string[] = [];
    for (const ws of kindSheets) {
      const header = ws.getRow(3);
      expect(header.getCell(1).value).toBe('STT');
      expect(header.getCell(2).value).toBe('Thiết bị');
      expect(header.getCell(3).value).toBe('Mã thiết bị');
      expect(header.getCell(6).value).toBe('Tỷ lệ hoạt động');
      for (const row of dataRows(ws, 3)) ids.push(String(row.getCell(3).value));
    }
    expect(ids.sort()).toEqual([...uniqueDevices(report)].sort());

    // A loudspeaker's row against its breakdown in the availability indicator.
    const ws = wb.getWorksheet('Loa truyền thanh')!;
    const rows = dataRows(ws, 3);
    expect(rows).toHaveLength(20);
    const d = report.indicators.find((i) => i.id === 'loudspeaker_availability')!.byDevice.find((x) => x.id === 'loa-08')!;
    const row = rows.find((r) => r.getCell(3).value === 'loa-08')!;
    expect(row.getCell(2).value).toBe('Cụm loa Ấp Đắc Lua');
    expect(row.getCell(4).value).toBe('Ấp Đắc Lua');
    expect(row.getCell(5).value).toBe('Loa ấp');
    expect(row.getCell(6).value as number).toBeCloseTo(d.value!, 9);
    expect(row.getCell(6).numFmt).toBe('0.0"%"');
    expect(row.getCell(7).value as number).toBeCloseTo(d.upMs / 3_600_000, 9);
    expect(row.getCell(9).value as number).toBeCloseTo(d.downMs / 3_600_000, 9);
    expect(row.getCell(10).value as number).toBeCloseTo(d.unknownMs / 3_600_000, 9);
    expect(row.getCell(10).numFmt).toBe('#,##0.0');
    expect(row.getCell(12).value).toBe(d.incidents);
    // Rows follow the settings order of hamlets: Ấp 1 first, Ấp Tà Lài (the 19th) last.
    expect(rows[0]!.getCell(4).value).toBe('Ấp 1');
    expect(rows.at(-1)!.getCell(4).value).toBe('Ấp Tà Lài');

    // The total row sums by formula, with the computed result cached for readers that do not recalculate.
    const total = ws.getRow(3 + rows.length + 1);
    expect(total.getCell(2).value).toBe('Cộng');
    const incidents = total.getCell(12).value as ExcelJS.CellFormulaValue;
    expect(incidents.formula).toBe(`SUM(L4:L${3 + rows.length})`);
    expect(incidents.result).toBe(rows.reduce((s, r) => s + (r.getCell(12).value as number), 0));
  });

  it('summarises by hamlet: all 19 hamlets, dead zones noted, indicator values per hamlet', () => {
    const ws = wb.getWorksheet('Theo ấp')!;
    const rows = dataRows(ws, 3);
    expect(rows.map((r) => r.getCell(2).value)).toEqual(SAMPLE_HAMLETS.map((h) => h.name));
    const dacLua = rows[7]!;
    expect(dacLua.getCell(2).value).toBe('Ấp Đắc Lua');
    expect(dacLua.getCell(8).value).toBe('Vùng lõm sóng di động');
    const header = ws.getRow(3);
    const col = [...Array(header.cellCount).keys()].map((i) => header.getCell(i + 1).value).indexOf('Tỷ lệ thời gian hoạt động của hệ thống loa truyền thanh thông minh (%)') + 1;
    expect(col).toBeGreaterThan(8);
    const hamlet = report.indicators[0]!.byHamlet.find((b) => b.id === 'ap-08')!;
    expect(dacLua.getCell(col).value as number).toBeCloseTo(hamlet.value!, 9);
  });

  it('explains data coverage, with the gateway coverage as a number', () => {
    const ws = wb.getWorksheet('Độ phủ dữ liệu')!;
    const texts: string[] = [];
    ws.eachRow((row) => row.eachCell((c) => texts.push(String(c.value))));
    const gw = ws.getColumn(1).values.indexOf('Thời gian gateway hoạt động');
    expect(gw).toBeGreaterThan(0);
    expect(ws.getRow(gw).getCell(3).value as number).toBeCloseTo(report.gatewayCoverage * 100, 9);
    expect(ws.getRow(gw).getCell(3).numFmt).toBe('0.0"%"');
    expect(texts.some((t) => t.includes('Thời gian "không rõ"'))).toBe(true);
    // Soil probes installed in May: their coverage is listed as low.
    expect(texts).toContain('Cảm biến độ ẩm đất vườn sầu riêng 1');
  });
});

describe('XLSX edge cases', () => {
  it('shows a dash, not 0, for an indicator without a value, and no target', async () => {
    const report = sampleReport();
    const ind = report.indicators[10]!;
    Object.assign(ind, { value: null, numerator: 0, denominator: 0, target: null, status: 'KHONG_DU_DU_LIEU' });
    const ws = (await load(report)).getWorksheet('Chỉ tiêu')!;
    const row = ws.getRow(HEADER_ROW + 11);
    expect(row.getCell(5).value).toBe('—');
    expect(row.getCell(4).value).toBe('—');
    expect(row.getCell(6).value).toBe('Không đủ dữ liệu');
    expect(String(row.getCell(9).value)).toContain('Chưa có thiết bị hoặc dữ liệu để tính');
  });

  it('renders in English on request', async () => {
    const wb = await load(sampleReport(), 'en');
    expect(wb.worksheets[0]!.name).toBe('Indicators');
    const ws = wb.worksheets[0]!;
    expect(ws.getCell('A4').value).toBe('REPORT ON THE DIGITAL INFRASTRUCTURE INDICATORS, FIRST HALF OF 2026');
    expect(ws.getRow(HEADER_ROW).getCell(6).value).toBe('Evaluation');
    expect(wb.worksheets.map((w) => w.name)).toContain('Loudspeakers');
  });
});

describe('report wording', () => {
  const tz = 'Asia/Ho_Chi_Minh';
  const at = (iso: string) => Date.parse(iso);
  const period = (kind: Period['kind'], from: string, to: string, id = 'x'): Period => ({ id, kind, from: at(from), to: at(to), timezone: tz });

  it.each([
    [period('half', '2026-01-01T00:00+07:00', '2026-07-01T00:00+07:00'), '6 tháng đầu năm 2026', 'first half of 2026'],
    [period('half', '2026-07-01T00:00+07:00', '2027-01-01T00:00+07:00'), '6 tháng cuối năm 2026', 'second half of 2026'],
    [period('quarter', '2026-04-01T00:00+07:00', '2026-07-01T00:00+07:00'), 'quý II năm 2026', 'Q2 2026'],
    [period('month', '2026-05-01T00:00+07:00', '2026-06-01T00:00+07:00'), 'tháng 5 năm 2026', 'May 2026'],
    [period('month', '2026-02-01T00:00+07:00', '2026-03-01T00:00+07:00'), 'tháng 02 năm 2026', 'February 2026'],
    [period('year', '2026-01-01T00:00+07:00', '2027-01-01T00:00+07:00'), 'năm 2026', '2026'],
    [period('day', '2026-05-14T00:00+07:00', '2026-05-15T00:00+07:00'), 'ngày 14/05/2026', '14/05/2026'],
    [period('custom', '2026-01-01T00:00+07:00', '2026-04-01T00:00+07:00'), 'từ ngày 01/01/2026 đến ngày 31/03/2026', '01/01/2026 to 31/03/2026'],
  ])('%#: %s', (p, vi, en) => {
    expect(periodPhrase(p, 'vi')).toBe(vi);
    expect(periodPhrase(p, 'en')).toBe(en);
  });

  it('names the commune as documents do, whatever the config wrote', () => {
    expect(communeDisplayName('Tà Lài')).toBe('Xã Tà Lài');
    expect(communeDisplayName('xã Tà Lài')).toBe('Xã Tà Lài');
    expect(communeDisplayName('Phường Tân Phong')).toBe('Phường Tân Phong');
  });

  it('says the period is not over for a partial report', () => {
    const report = sampleReport();
    report.partial = true;
    report.generatedAt = '2026-05-15T14:05:00+07:00';
    const m = buildReportModel(report, 'vi');
    expect(m.subtitle).toBe('(Kỳ báo cáo chưa kết thúc: số liệu từ ngày 01/01/2026 đến 14:05 15/05/2026)');
    expect(m.header.dateLine).toBe('Tà Lài, ngày 15 tháng 5 năm 2026');
  });
});
