/**
 * Reports from awkward inputs: a commune with nothing installed yet, a note longer
 * than a page, a missing font file, hamlets the inventory does not name.
 */
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { CodedError } from '../gateway/errors.js';
import type { IndicatorReport } from '../gateway/indicators/types.js';
import { buildReportModel } from '../gateway/report/model.js';
import { renderPdf } from '../gateway/report/pdf.js';
import { renderReport } from '../gateway/report/render.js';
import { SAMPLE_HAMLETS, sampleReport } from '../gateway/report/sample.js';

/** pdfkit writes no object streams: every page object is visible in the file. */
const pageCount = (pdf: Buffer) => (pdf.toString('latin1').match(/\/Type \/Page\b/g) ?? []).length;

function emptyCommune(): IndicatorReport {
  const r = sampleReport();
  r.gatewayCoverage = 0;
  for (const ind of r.indicators) {
    Object.assign(ind, { value: null, numerator: 0, denominator: 0, coverage: null, status: 'KHONG_DU_DU_LIEU', byDevice: [], byHamlet: [] });
    delete ind.detail;
  }
  return r;
}

describe('report edge cases', () => {
  it('renders a commune with no device yet in every format', async () => {
    const report = emptyCommune();
    const inventory = { hamlets: SAMPLE_HAMLETS };
    const xlsx = await renderReport(report, { format: 'xlsx', inventory });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(xlsx.body as unknown as ArrayBuffer);
    // No device: no kind sheet, but the hamlets are all listed, each "Chưa có thiết bị giám sát".
    expect(wb.worksheets.map((w) => w.name)).toEqual(['Chỉ tiêu', 'Theo ấp', 'Độ phủ dữ liệu']);
    const hamlets = wb.getWorksheet('Theo ấp')!;
    expect(hamlets.getRow(4).getCell(8).value).toBe('Chưa có thiết bị giám sát');
    expect(hamlets.getRow(4 + 18).getCell(2).value).toBe('Ấp Tà Lài');
    expect(wb.worksheets[0]!.getRow(8).getCell(5).value).toBe('—');

    const csv = await renderReport(report, { format: 'csv', csvTable: 'devices' });
    expect(csv.body.toString('utf8').trim().split('\r\n')).toHaveLength(1);

    const pdf = await renderReport(report, { format: 'pdf', inventory });
    expect(pdf.body.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pageCount(pdf.body)).toBeGreaterThanOrEqual(2);
  });

  it('clips a table cell taller than a page instead of flowing it over new pages', async () => {
    const report = sampleReport();
    const normal = pageCount((await renderReport(report, { format: 'pdf' })).body);
    report.indicators[0]!.cooperatingUnit = 'Trung tâm Dịch vụ tổng hợp '.repeat(400);
    const long = pageCount((await renderReport(report, { format: 'pdf' })).body);
    // At most the one extra page the clipped row fills.
    expect(long).toBeLessThanOrEqual(normal + 1);
  });

  it('names a missing font file with CE_REPORT_FONT', async () => {
    const model = buildReportModel(sampleReport());
    const missing = { regular: '/nonexistent/BeVietnamPro_400Regular.ttf', bold: '/nonexistent/b.ttf', italic: '/nonexistent/i.ttf' };
    const err = await renderPdf(model, new Date(), missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).code).toBe('CE_REPORT_FONT');
    expect((err as CodedError).message).toContain('/nonexistent/BeVietnamPro_400Regular.ttf');
  });

  it('without an inventory, takes hamlet names from the breakdowns and keeps devices in unknown hamlets', () => {
    const report = sampleReport();
    report.indicators[0]!.byDevice[0]!.hamlet = 'ap-99';
    const m = buildReportModel(report);
    expect(m.hamlets.map((h) => h.name)).toContain('Ấp Đắc Lua');
    const stray = m.hamlets.find((h) => h.id === 'ap-99')!;
    expect(stray.name).toBe('ap-99');
    expect(stray.devices).toBe(1);
    // Every device is still in exactly one kind table.
    const ids = m.kinds.flatMap((k) => k.rows.map((r) => r.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(m.deviceCount);
  });
});
