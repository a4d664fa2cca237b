/**
 * The report as an Excel workbook (exceljs): the indicator table the office pastes
 * into its half-year report, a sheet per device kind, a per-hamlet sheet and a
 * data-coverage sheet.
 *
 * Numbers stay numeric cells so the office can recompute; number formats show
 * them. Excel draws the decimal separator of the user's locale, not of the file
 * (ECMA-376 Part 1 §18.8.30-31, numFmt: in a format code "." is the decimal placeholder and
 * "," the grouping one, mapped to the locale's symbols when displayed), so
 * Vietnamese Windows shows 99,5 and English Windows 99.5 from the same cell.
 */
import ExcelJS from 'exceljs';
import type { IndicatorStatus } from '../indicators/types.js';
import { NO_VALUE } from './format.js';
import { DEVICE_COLUMNS, HAMLET_COLUMNS, INDICATOR_COLUMNS, TEXT, type DeviceColumnKey, type HamletColumnKey, type IndicatorColumnKey } from './labels.js';
import type { DeviceRow, KindTable, ReportModel } from './model.js';

/** Decree 30/2020/NĐ-CP sets Times New Roman for administrative documents. */
const FONT = 'Times New Roman';

/** Excel's built-in "Good" / "Bad" / "Neutral"-like cell styles, which office staff recognise. */
export const STATUS_FILL: Record<IndicatorStatus, { fill: string; font: string }> = {
  DAT: { fill: 'FFC6EFCE', font: 'FF006100' },
  CHUA_DAT: { fill: 'FFFFC7CE', font: 'FF9C0006' },
  KHONG_DU_DU_LIEU: { fill: 'FFD9D9D9', font: 'FF404040' },
};

export const FMT = {
  percent: '0.0"%"',
  decimal: '#,##0.0',
  integer: '#,##0',
  hours: '#,##0.0',
} as const;

const HEADER_FILL = 'FFDDEBF7';
const THIN: Partial<ExcelJS.Border> = { style: 'thin', color: { argb: 'FF808080' } };
const BORDER: Partial<ExcelJS.Borders> = { top: THIN, left: THIN, bottom: THIN, right: THIN };

/** Column widths in characters, per table. */
const INDICATOR_WIDTHS: Record<IndicatorColumnKey, number> = {
  stt: 5,
  name: 46,
  unit: 11,
  target: 10,
  value: 10,
  status: 14,
  responsible: 24,
  coverage: 10,
  note: 42,
};

const DEVICE_KEYS: DeviceColumnKey[] = [
  'stt',
  'name',
  'hamlet',
  'role',
  'availability',
  'upH',
  'degradedH',
  'downH',
  'unknownH',
  'maintenanceH',
  'incidents',
  'mttrMin',
  'coverage',
];
const DEVICE_WIDTHS: Record<DeviceColumnKey, number> = {
  stt: 5,
  name: 38,
  hamlet: 16,
  role: 20,
  availability: 11,
  upH: 11,
  degradedH: 10,
  downH: 10,
  unknownH: 10,
  maintenanceH: 9,
  incidents: 9,
  mttrMin: 13,
  coverage: 10,
};
const DEVICE_ID_HEADING = { vi: 'Mã thiết bị', en: 'Device id' };

const HAMLET_KEYS: HamletColumnKey[] = ['stt', 'name', 'devices', 'availability', 'downH', 'unknownH', 'incidents', 'note'];
const HAMLET_WIDTHS: Record<HamletColumnKey, number> = { stt: 5, name: 18, devices: 9, availability: 12, downH: 11, unknownH: 11, incidents: 9, note: 24 };

/** Rows of wrapped text: Excel does not grow a row on open, so estimate its height from the widest cell. */
function fitHeight(row: ExcelJS.Row, widths: number[], lineHeight = 15): void {
  let lines = 1;
  row.eachCell({ includeEmpty: false }, (cell, col) => {
    const text = cell.value === null || cell.value === undefined ? '' : typeof cell.value === 'object' ? '' : String(cell.value);
    const width = widths[col - 1] ?? 10;
    // Times New Roman 11: about 1.15 characters of Vietnamese text per width unit.
    const perLine = Math.max(1, Math.floor(width * 1.15));
    const n = text.split('\n').reduce((s, part) => s + Math.max(1, Math.ceil(part.length / perLine)), 0);
    lines = Math.max(lines, n);
  });
  row.height = Math.max(lineHeight, lines * lineHeight);
}

function styleHeader(row: ExcelJS.Row): void {
  row.eachCell((cell) => {
    cell.font = { name: FONT, size: 11, bold: true };
    cell.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: HEADER_FILL } };
    cell.border = BORDER;
  });
}

function styleBody(row: ExcelJS.Row, count: number): void {
  for (let c = 1; c <= count; c++) {
    const cell = row.getCell(c);
    cell.font = { name: FONT, size: 11, ...(cell.font ?? {}) };
    cell.border = BORDER;
    cell.alignment = { vertical: 'top', wrapText: true, ...(cell.alignment ?? {}) };
  }
}

function numberCell(cell: ExcelJS.Cell, value: number | null, numFmt: string): void {
  if (value === null || !Number.isFinite(value)) {
    cell.value = NO_VALUE;
    cell.alignment = { horizontal: 'center' };
    return;
  }
  cell.value = value;
  cell.numFmt = numFmt;
  cell.alignment = { horizontal: 'right' };
}

/** A merged, styled line of the header block. */
function line(
  ws: ExcelJS.Worksheet,
  range: string,
  text: string,
  font: Partial<ExcelJS.Font>,
  align: Partial<ExcelJS.Alignment> = { horizontal: 'center', vertical: 'middle', wrapText: true },
): ExcelJS.Cell {
  ws.mergeCells(range);
  const cell = ws.getCell(range.split(':')[0]!);
  cell.value = text;
  cell.font = { name: FONT, size: 12, ...font };
  cell.alignment = align;
  return cell;
}

function colLetter(n: number): string {
  let s = '';
  for (; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

function printSetup(ws: ExcelJS.Worksheet, m: ReportModel, titleRow: number, landscape: boolean): void {
  ws.pageSetup = {
    paperSize: 9, // A4 (ECMA-376 Part 1, pageSetup@paperSize)
    orientation: landscape ? 'landscape' : 'portrait',
    fitToPage: true,
    fitToWidth: 1,
    fitToHeight: 0,
    printTitlesRow: `${titleRow}:${titleRow}`,
    margins: { left: 0.6, right: 0.4, top: 0.6, bottom: 0.6, header: 0.3, footer: 0.3 },
  };
  // ECMA-376 Part 1 header/footer codes (oddFooter): &P page number, &N page count.
  ws.headerFooter = { oddFooter: `&C&"Times New Roman"&10${TEXT.page[m.lang]} &P/&N` };
}

function indicatorSheet(wb: ExcelJS.Workbook, m: ReportModel): void {
  const lang = m.lang;
  const keys = Object.keys(INDICATOR_COLUMNS) as IndicatorColumnKey[];
  const widths = keys.map((k) => INDICATOR_WIDTHS[k]);
  const ws = wb.addWorksheet(TEXT.sheetIndicators[lang]);
  ws.columns = keys.map((k) => ({ key: k, width: INDICATOR_WIDTHS[k] }));
  const last = colLetter(keys.length);

  // The national header block of an administrative document (Decree 30/2020/NĐ-CP, Phụ lục I):
  // issuing body top left, national name and motto top right, date line under the motto.
  line(ws, 'A1:C1', m.header.authority[0], { bold: false });
  line(ws, 'E1:I1', m.header.nation, { bold: true });
  line(ws, 'A2:C2', m.header.authority[1], { bold: true });
  line(ws, 'E2:I2', m.header.motto, { bold: true, underline: true, size: 13 });
  line(ws, 'A3:C3', m.header.docNumber, {});
  line(ws, 'E3:I3', m.header.dateLine, { italic: true });
  line(ws, `A4:${last}4`, m.titleLines.join(' '), { bold: true, size: 14 });
  ws.getRow(4).height = 24;
  line(ws, `A5:${last}5`, `${m.subtitle} — ${TEXT.generatedAt[lang]}: ${m.generatedAtText}`, { italic: true, size: 11 });
  line(ws, `A6:${last}6`, m.coverageNote, { size: 11 }, { horizontal: 'left', vertical: 'top', wrapText: true });
  ws.getRow(6).height = 48;

  const headerRow = 7;
  const header = ws.getRow(headerRow);
  header.values = keys.map((k) => INDICATOR_COLUMNS[k][lang]);
  styleHeader(header);
  header.height = 32;

  m.indicators.forEach((ind, i) => {
    const row = ws.getRow(headerRow + 1 + i);
    row.getCell('stt').value = ind.stt;
    row.getCell('stt').alignment = { horizontal: 'center' };
    row.getCell('name').value = ind.name;
    row.getCell('unit').value = ind.unit;
    row.getCell('unit').alignment = { horizontal: 'center' };
    const target = row.getCell('target');
    if (ind.target) {
      const op = ind.target.op === '>=' ? '≥' : '≤';
      const digits = Number.isInteger(ind.target.value) ? '0' : '0.0';
      numberCell(target, ind.target.value, `"${op} "${digits}${ind.percent ? '"%"' : ''}`);
    } else numberCell(target, null, '');
    numberCell(row.getCell('value'), ind.value, ind.percent ? FMT.percent : FMT.decimal);
    const status = row.getCell('status');
    status.value = ind.statusText;
    const colours = STATUS_FILL[ind.status];
    status.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: colours.fill } };
    status.font = { name: FONT, size: 11, bold: true, color: { argb: colours.font } };
    status.alignment = { horizontal: 'center', vertical: 'top', wrapText: true };
    row.getCell('responsible').value = ind.responsible;
    numberCell(row.getCell('coverage'), ind.coverage, FMT.percent);
    row.getCell('note').value = ind.note;
    styleBody(row, keys.length);
    fitHeight(row, widths);
  });

  ws.views = [{ state: 'frozen', xSplit: 0, ySplit: headerRow, topLeftCell: `A${headerRow + 1}`, activeCell: `A${headerRow + 1}` }];
  ws.autoFilter = { from: { row: headerRow, column: 1 }, to: { row: headerRow + m.indicators.length, column: keys.length } };
  printSetup(ws, m, headerRow, true);
}

function deviceSheet(wb: ExcelJS.Workbook, m: ReportModel, table: KindTable): void {
  const lang = m.lang;
  const ws = wb.addWorksheet(table.sheetName);
  // The device id sits after the name: what the IT officer searches the dashboard for.
  const headings = DEVICE_KEYS.flatMap((k) => (k === 'name' ? [DEVICE_COLUMNS.name[lang], DEVICE_ID_HEADING[lang]] : [DEVICE_COLUMNS[k][lang]]));
  const widths = DEVICE_KEYS.flatMap((k) => (k === 'name' ? [DEVICE_WIDTHS.name, 18] : [DEVICE_WIDTHS[k]]));
  ws.columns = widths.map((w) => ({ width: w }));
  const last = colLetter(headings.length);
  line(ws, `A1:${last}1`, `${lang === 'vi' ? 'TÌNH TRẠNG HOẠT ĐỘNG' : 'OPERATION'}: ${table.label.toLocaleUpperCase(lang)}`, { bold: true, size: 13 });
  line(ws, `A2:${last}2`, `${m.communeDisplayName} — ${m.periodPhrase} ${m.subtitle}`, { italic: true, size: 11 });
  const headerRow = 3;
  const header = ws.getRow(headerRow);
  header.values = headings;
  styleHeader(header);
  header.height = 45;
  const col = (k: DeviceColumnKey) => DEVICE_KEYS.indexOf(k) + 1 + (DEVICE_KEYS.indexOf(k) > DEVICE_KEYS.indexOf('name') ? 1 : 0);

  table.rows.forEach((d: DeviceRow, i) => {
    const row = ws.getRow(headerRow + 1 + i);
    row.getCell(col('stt')).value = d.stt;
    row.getCell(col('stt')).alignment = { horizontal: 'center' };
    row.getCell(col('name')).value = d.name;
    row.getCell(col('name') + 1).value = d.id;
    row.getCell(col('hamlet')).value = d.hamlet;
    row.getCell(col('role')).value = d.role;
    numberCell(row.getCell(col('availability')), d.availability, FMT.percent);
    numberCell(row.getCell(col('upH')), d.upH, FMT.hours);
    numberCell(row.getCell(col('degradedH')), d.degradedH, FMT.hours);
    numberCell(row.getCell(col('downH')), d.downH, FMT.hours);
    numberCell(row.getCell(col('unknownH')), d.unknownH, FMT.hours);
    numberCell(row.getCell(col('maintenanceH')), d.maintenanceH, FMT.hours);
    numberCell(row.getCell(col('incidents')), d.incidents, FMT.integer);
    numberCell(row.getCell(col('mttrMin')), d.mttrMin, FMT.integer);
    numberCell(row.getCell(col('coverage')), d.coverage, FMT.percent);
    styleBody(row, headings.length);
    fitHeight(row, widths);
  });

  // A total row with formulas, so a corrected cell above updates it.
  const first = headerRow + 1;
  const lastRow = headerRow + table.rows.length;
  const total = ws.getRow(lastRow + 1);
  total.getCell(col('name')).value = lang === 'vi' ? 'Cộng' : 'Total';
  const sum = (k: DeviceColumnKey) => `SUM(${colLetter(col(k))}${first}:${colLetter(col(k))}${lastRow})`;
  const sumValue = (k: keyof DeviceRow) => table.rows.reduce((s, d) => s + (d[k] as number), 0);
  for (const k of ['upH', 'degradedH', 'downH', 'unknownH', 'maintenanceH', 'incidents'] as const) {
    const cell = total.getCell(col(k));
    cell.value = { formula: sum(k), result: sumValue(k) };
    cell.numFmt = k === 'incidents' ? FMT.integer : FMT.hours;
  }
  const up = sumValue('upH') + sumValue('degradedH');
  const known = up + sumValue('downH');
  const availability = total.getCell(col('availability'));
  availability.value = {
    formula: `IF(${sum('upH')}+${sum('degradedH')}+${sum('downH')}=0,"",(${sum('upH')}+${sum('degradedH')})/(${sum('upH')}+${sum('degradedH')}+${sum('downH')})*100)`,
    result: known > 0 ? (up / known) * 100 : '',
  };
  availability.numFmt = FMT.percent;
  styleBody(total, headings.length);
  total.eachCell((c) => (c.font = { name: FONT, size: 11, bold: true }));

  ws.views = [{ state: 'frozen', xSplit: 2, ySplit: headerRow, topLeftCell: `C${headerRow + 1}`, activeCell: `C${headerRow + 1}` }];
  printSetup(ws, m, headerRow, true);
}

function hamletSheet(wb: ExcelJS.Workbook, m: ReportModel): void {
  const lang = m.lang;
  const ws = wb.addWorksheet(TEXT.sheetHamlets[lang]);
  const headings = [...HAMLET_KEYS.map((k) => HAMLET_COLUMNS[k][lang]), ...m.hamletIndicatorColumns.map((c) => c.heading)];
  const widths = [...HAMLET_KEYS.map((k) => HAMLET_WIDTHS[k]), ...m.hamletIndicatorColumns.map(() => 16)];
  ws.columns = widths.map((w) => ({ width: w }));
  const last = colLetter(headings.length);
  line(ws, `A1:${last}1`, lang === 'vi' ? 'TỔNG HỢP THEO ẤP' : 'BY HAMLET', { bold: true, size: 13 });
  line(ws, `A2:${last}2`, `${m.communeDisplayName} — ${m.periodPhrase} ${m.subtitle}`, { italic: true, size: 11 });
  const headerRow = 3;
  const header = ws.getRow(headerRow);
  header.values = headings;
  styleHeader(header);
  fitHeight(header, widths);

  m.hamlets.forEach((h, i) => {
    const row = ws.getRow(headerRow + 1 + i);
    row.getCell(1).value = h.stt;
    row.getCell(1).alignment = { horizontal: 'center' };
    row.getCell(2).value = h.name;
    numberCell(row.getCell(3), h.devices, FMT.integer);
    numberCell(row.getCell(4), h.availability, FMT.percent);
    numberCell(row.getCell(5), h.downH, FMT.hours);
    numberCell(row.getCell(6), h.unknownH, FMT.hours);
    numberCell(row.getCell(7), h.incidents, FMT.integer);
    row.getCell(8).value = h.note;
    m.hamletIndicatorColumns.forEach((c, j) => {
      const cell = row.getCell(HAMLET_KEYS.length + 1 + j);
      if (h.byIndicator.has(c.id)) numberCell(cell, h.byIndicator.get(c.id) ?? null, c.percent ? FMT.percent : FMT.decimal);
    });
    styleBody(row, headings.length);
    fitHeight(row, widths);
  });
  ws.views = [{ state: 'frozen', xSplit: 2, ySplit: headerRow, topLeftCell: `C${headerRow + 1}`, activeCell: `C${headerRow + 1}` }];
  printSetup(ws, m, headerRow, true);
}

function coverageSheet(wb: ExcelJS.Workbook, m: ReportModel): void {
  const lang = m.lang;
  const ws = wb.addWorksheet(TEXT.sheetCoverage[lang]);
  const widths = [5, 52, 14, 12, 16, 16];
  ws.columns = widths.map((w) => ({ width: w }));
  printSetup(ws, m, 1, false);
  line(ws, 'A1:F1', lang === 'vi' ? 'ĐỘ PHỦ DỮ LIỆU' : 'DATA COVERAGE', { bold: true, size: 13 });
  line(ws, 'A2:F2', `${m.communeDisplayName} — ${m.periodPhrase} ${m.subtitle}`, { italic: true, size: 11 });

  let r = 4;
  for (const [label, text] of m.facts) {
    const row = ws.getRow(r++);
    ws.mergeCells(`A${row.number}:B${row.number}`);
    row.getCell(1).value = label;
    row.getCell(1).font = { name: FONT, size: 11, bold: true };
    ws.mergeCells(`C${row.number}:F${row.number}`);
    const cell = row.getCell(3);
    if (label === TEXT.gatewayCoverage[lang]) numberCell(cell, m.gatewayCoverage * 100, FMT.percent);
    else cell.value = text;
    cell.font = { name: FONT, size: 11 };
    cell.alignment = { horizontal: 'left' };
  }
  r++;
  for (const paragraph of m.coverageExplanation) {
    line(ws, `A${r}:F${r}`, paragraph, { size: 11 }, { horizontal: 'left', vertical: 'top', wrapText: true });
    // Merged across A:F (115 width units): estimate the lines by hand.
    ws.getRow(r).height = Math.max(15, Math.ceil(paragraph.length / 125) * 15);
    r++;
  }
  r++;
  const tableHeader = ws.getRow(r);
  tableHeader.values = [
    INDICATOR_COLUMNS.stt[lang],
    INDICATOR_COLUMNS.name[lang],
    INDICATOR_COLUMNS.coverage[lang],
    TEXT.devicesCounted[lang],
    TEXT.unknownHours[lang],
    INDICATOR_COLUMNS.status[lang],
  ];
  styleHeader(tableHeader);
  fitHeight(tableHeader, widths);
  for (const c of m.coverageRows) {
    const row = ws.getRow(++r);
    row.getCell(1).value = c.stt;
    row.getCell(1).alignment = { horizontal: 'center' };
    row.getCell(2).value = c.name;
    numberCell(row.getCell(3), c.coverage, FMT.percent);
    numberCell(row.getCell(4), c.devices, FMT.integer);
    numberCell(row.getCell(5), c.unknownH, FMT.hours);
    const status = row.getCell(6);
    status.value = c.statusText;
    status.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: STATUS_FILL[c.status].fill } };
    status.font = { name: FONT, size: 11, color: { argb: STATUS_FILL[c.status].font } };
    styleBody(row, 6);
    fitHeight(row, widths);
  }
  r += 2;
  line(ws, `A${r}:F${r}`, TEXT.lowCoverageDevices[lang], { bold: true, size: 11 }, { horizontal: 'left' });
  if (m.lowCoverageDevices.length === 0) {
    line(ws, `A${r + 1}:F${r + 1}`, TEXT.noneLowCoverage[lang], { size: 11 }, { horizontal: 'left' });
    return;
  }
  const lowHeader = ws.getRow(++r);
  lowHeader.values = [
    DEVICE_COLUMNS.stt[lang],
    DEVICE_COLUMNS.name[lang],
    DEVICE_COLUMNS.hamlet[lang],
    DEVICE_COLUMNS.coverage[lang],
    DEVICE_COLUMNS.unknownH[lang],
    DEVICE_ID_HEADING[lang],
  ];
  styleHeader(lowHeader);
  m.lowCoverageDevices.forEach((d, i) => {
    const row = ws.getRow(++r);
    row.getCell(1).value = i + 1;
    row.getCell(1).alignment = { horizontal: 'center' };
    row.getCell(2).value = d.name;
    row.getCell(3).value = d.hamlet;
    numberCell(row.getCell(4), d.coverage, FMT.percent);
    numberCell(row.getCell(5), d.unknownH, FMT.hours);
    row.getCell(6).value = d.id;
    styleBody(row, 6);
  });
}

export async function renderXlsx(m: ReportModel, generatedAt: Date): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'commune-edge';
  wb.title = m.titleLines.join(' ');
  wb.subject = `${m.communeDisplayName} — ${m.periodPhrase}`;
  // The document's own dates are the report's, so the same report renders to the same workbook.
  wb.created = generatedAt;
  wb.modified = generatedAt;
  indicatorSheet(wb, m);
  for (const table of m.kinds) deviceSheet(wb, m, table);
  hamletSheet(wb, m);
  coverageSheet(wb, m);
  return Buffer.from(await wb.xlsx.writeBuffer());
}
