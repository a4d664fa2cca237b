/**
 * The half-year report (issue 5): an IndicatorReport rendered as XLSX, CSV or PDF
 * in Vietnamese (or English), for the culture-society office's periodic report
 * ("định kỳ 6 tháng") and for anyone who wants the figures in a spreadsheet.
 */
import type { IndicatorReport } from '../indicators/types.js';
import { renderCsv, type CsvTable } from './csv.js';
import type { ReportLang } from './format.js';
import { buildReportModel, reportFileBase, reportFileTitle, type ReportInventory } from './model.js';
import { renderPdf } from './pdf.js';
import { renderXlsx } from './xlsx.js';

export type ReportFormat = 'xlsx' | 'csv' | 'pdf';
export const REPORT_FORMATS: readonly ReportFormat[] = ['xlsx', 'csv', 'pdf'];

export const CONTENT_TYPE: Record<ReportFormat, string> = {
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  // RFC 4180 §3 registers text/csv with the charset and header parameters.
  csv: 'text/csv; charset=utf-8; header=present',
  pdf: 'application/pdf',
};

export interface RenderOptions {
  format: ReportFormat;
  /** Labels, notes and number conventions; default 'vi'. */
  lang?: ReportLang;
  /** The commune's hamlets in settings order (see ReportInventory). */
  inventory?: ReportInventory;
  /** CSV only: which table (one table per file); default the indicator table. */
  csvTable?: CsvTable;
}

export interface RenderedReport {
  body: Buffer;
  contentType: string;
  /** ASCII file name: `bao-cao-ha-tang-so-26999-2026-H1.xlsx` (`-thiet-bi` / `-theo-ap` for the other CSV tables). */
  fileName: string;
  /** The same in words, for Content-Disposition's filename*: `Báo cáo hạ tầng số - Xã Tà Lài - 6 tháng đầu năm 2026.xlsx`. */
  fileNameUtf8: string;
}

const CSV_SUFFIX: Record<CsvTable, { ascii: string; vi: string; en: string }> = {
  indicators: { ascii: '', vi: '', en: '' },
  devices: { ascii: '-thiet-bi', vi: ' - thiết bị', en: ' - devices' },
  hamlets: { ascii: '-theo-ap', vi: ' - theo ấp', en: ' - by hamlet' },
};

export function reportFileNames(report: IndicatorReport, o: Pick<RenderOptions, 'format' | 'lang' | 'csvTable'>): { fileName: string; fileNameUtf8: string } {
  const lang = o.lang ?? 'vi';
  const suffix = o.format === 'csv' ? CSV_SUFFIX[o.csvTable ?? 'indicators'] : CSV_SUFFIX.indicators;
  return {
    fileName: `${reportFileBase(report)}${suffix.ascii}.${o.format}`,
    fileNameUtf8: `${reportFileTitle(report, lang)}${suffix[lang]}.${o.format}`,
  };
}

export async function renderReport(report: IndicatorReport, o: RenderOptions): Promise<RenderedReport> {
  const lang = o.lang ?? 'vi';
  const model = buildReportModel(report, lang, o.inventory);
  const generatedAt = new Date(report.generatedAt);
  let body: Buffer;
  switch (o.format) {
    case 'xlsx':
      body = await renderXlsx(model, generatedAt);
      break;
    case 'csv':
      body = renderCsv(model, o.csvTable ?? 'indicators');
      break;
    case 'pdf':
      body = await renderPdf(model, generatedAt);
      break;
  }
  return { body, contentType: CONTENT_TYPE[o.format], ...reportFileNames(report, o) };
}
