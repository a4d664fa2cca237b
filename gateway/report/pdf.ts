/**
 * The report as a PDF laid out like a commune People's Committee report: the
 * national header block, the title, the indicator table, data coverage, the
 * signature block, then an appendix (Phụ lục) with the device tables per kind,
 * the per-hamlet summary and the per-indicator coverage.
 *
 * Layout follows Decree 30/2020/NĐ-CP, Phụ lục I (A4 portrait; margins top and
 * bottom 20-25 mm, left 30-35 mm, right 15-20 mm; the issuing body top left, the
 * national name and motto top right, the date line in italics under the motto).
 * The typeface is Be Vietnam Pro (OFL), embedded as TrueType: pdfkit subsets it and
 * writes a ToUnicode CMap (ISO 32000-1 §9.10.3), so text extracts with its
 * diacritics; a Standard 14 font has no glyphs for Vietnamese.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import PDFDocument from 'pdfkit';
import type { IndicatorStatus } from '../indicators/types.js';
import { CodedError } from '../errors.js';
import { formatNumber, formatPercent, type ReportLang } from './format.js';
import { DEVICE_COLUMNS, HAMLET_COLUMNS, INDICATOR_COLUMNS, INDICATOR_COLUMN_KEYS, TEXT } from './labels.js';
import type { ReportModel } from './model.js';

const MM = 72 / 25.4;
const A4: [number, number] = [595.28, 841.89];
const MARGIN = { top: 20 * MM, bottom: 22 * MM, left: 30 * MM, right: 15 * MM };
const CONTENT_WIDTH = A4[0] - MARGIN.left - MARGIN.right;

const STATUS_COLOURS: Record<IndicatorStatus, { fill: string; text: string }> = {
  DAT: { fill: '#C6EFCE', text: '#006100' },
  CHUA_DAT: { fill: '#FFC7CE', text: '#9C0006' },
  KHONG_DU_DU_LIEU: { fill: '#D9D9D9', text: '#404040' },
};

export interface FontFiles {
  regular: string;
  bold: string;
  italic: string;
}

/**
 * The TTF files of Be Vietnam Pro, found through module resolution so they are
 * found wherever node_modules is (the repository, a global install, dist/).
 */
export function reportFonts(): FontFiles {
  let root: string;
  try {
    root = dirname(createRequire(import.meta.url).resolve('@expo-google-fonts/be-vietnam-pro/package.json'));
  } catch (err) {
    throw new CodedError('CE_REPORT_FONT', `@expo-google-fonts/be-vietnam-pro not installed (${(err as Error).message})`);
  }
  const files: FontFiles = {
    regular: join(root, '400Regular', 'BeVietnamPro_400Regular.ttf'),
    bold: join(root, '700Bold', 'BeVietnamPro_700Bold.ttf'),
    italic: join(root, '400Regular_Italic', 'BeVietnamPro_400Regular_Italic.ttf'),
  };
  return checkFonts(files);
}

function checkFonts(files: FontFiles): FontFiles {
  for (const f of Object.values(files)) if (!existsSync(f)) throw new CodedError('CE_REPORT_FONT', f);
  return files;
}

type Align = 'left' | 'center' | 'right';

interface Column {
  heading: string;
  width: number;
  align: Align;
  /** Widen to keep every cell on one line (STT, numbers, the evaluation); the widest text column gives way. */
  fit?: boolean;
}

interface CellStyle {
  fill?: string;
  color?: string;
  bold?: boolean;
}

type Cell = string | { text: string; style: CellStyle };

interface TableSpec {
  columns: Column[];
  rows: Cell[][];
  fontSize: number;
}

const PAD = 3;

class Layout {
  readonly doc: PDFKit.PDFDocument;
  private readonly bottom = A4[1] - MARGIN.bottom;

  constructor(doc: PDFKit.PDFDocument) {
    this.doc = doc;
  }

  get y(): number {
    return this.doc.y;
  }

  /** Start a new page unless `height` still fits on this one. */
  ensure(height: number): void {
    if (this.doc.y + height > this.bottom) this.doc.addPage();
  }

  paragraph(text: string, o: { font?: string; size?: number; align?: Align | 'justify'; gap?: number; indent?: number } = {}): void {
    const doc = this.doc;
    doc.font(o.font ?? 'regular').fontSize(o.size ?? 11);
    const options = { width: CONTENT_WIDTH, align: o.align ?? 'justify', indent: o.indent ?? 0, lineGap: 1.5 };
    this.ensure(Math.min(doc.heightOfString(text, options), 60));
    doc.fillColor('black').text(text, MARGIN.left, doc.y, options);
    doc.moveDown(o.gap ?? 0.4);
  }

  heading(text: string, size = 12): void {
    // Keep a heading with at least the first lines of what follows it.
    this.ensure(60);
    this.paragraph(text, { font: 'bold', size, align: 'left', gap: 0.3 });
  }

  private cellText(cell: Cell): string {
    return typeof cell === 'string' ? cell : cell.text;
  }

  private rowHeight(cells: Cell[], columns: Column[], font: string, size: number): number {
    const doc = this.doc;
    let h = 0;
    cells.forEach((cell, i) => {
      const bold = typeof cell !== 'string' && cell.style.bold;
      doc.font(bold ? 'bold' : font).fontSize(size);
      h = Math.max(h, doc.heightOfString(this.cellText(cell) || ' ', { width: columns[i]!.width - 2 * PAD, lineGap: 0.5 }));
    });
    return h + 2 * PAD;
  }

  private drawRow(cells: Cell[], columns: Column[], y: number, height: number, font: string, size: number, headerFill?: string): void {
    const doc = this.doc;
    let x = MARGIN.left;
    cells.forEach((cell, i) => {
      const col = columns[i]!;
      const style = typeof cell === 'string' ? {} : cell.style;
      const fill = style.fill ?? headerFill;
      if (fill) doc.save().rect(x, y, col.width, height).fill(fill).restore();
      doc.save().lineWidth(0.5).strokeColor('#555555').rect(x, y, col.width, height).stroke().restore();
      // `height` + `ellipsis` clip a cell taller than a page instead of letting pdfkit flow it onto new pages.
      doc
        .font(style.bold ? 'bold' : font)
        .fontSize(size)
        .fillColor(style.color ?? 'black')
        .text(this.cellText(cell), x + PAD, y + PAD, {
          width: col.width - 2 * PAD,
          height: height - 2 * PAD + 1,
          ellipsis: true,
          align: headerFill ? 'center' : col.align,
          lineGap: 0.5,
        });
      x += col.width;
    });
    doc.fillColor('black');
  }

  /**
   * Widen `fit` columns to their widest cell (and their heading) so "Không đủ dữ
   * liệu" or "1.407,0" never break; the other columns give the room in proportion
   * to their widths.
   */
  private fitColumns(spec: TableSpec): Column[] {
    const doc = this.doc;
    const cols = spec.columns.map((c) => ({ ...c }));
    let extra = 0;
    cols.forEach((col, i) => {
      if (!col.fit) return;
      doc.font('bold').fontSize(spec.fontSize);
      // A two-word heading ("Kết quả", "Đánh giá") stays on one line; a longer one may wrap between words.
      const words = col.heading.split(/\s+/);
      let need = words.length <= 2 ? doc.widthOfString(col.heading) : Math.max(...words.map((w) => doc.widthOfString(w)));
      for (const row of spec.rows) {
        const cell = row[i];
        if (cell === undefined) continue;
        const bold = typeof cell !== 'string' && cell.style.bold;
        doc.font(bold ? 'bold' : 'regular').fontSize(spec.fontSize);
        need = Math.max(need, doc.widthOfString(this.cellText(cell)));
      }
      const grow = need + 2 * PAD + 1 - col.width;
      if (grow > 0) {
        col.width += grow;
        extra += grow;
      }
    });
    const flexible = cols.filter((c) => !c.fit);
    const flexWidth = flexible.reduce((sum, c) => sum + c.width, 0);
    if (extra > 0 && flexWidth > extra) for (const c of flexible) c.width -= (extra * c.width) / flexWidth;
    return cols;
  }

  /** A bordered table; a row that does not fit starts a new page, which repeats the header row. */
  table(input: TableSpec): void {
    const doc = this.doc;
    const spec = { ...input, columns: this.fitColumns(input) };
    const headings = spec.columns.map((c) => c.heading);
    const headerHeight = this.rowHeight(headings, spec.columns, 'bold', spec.fontSize);
    // drawRow's text calls move doc.y; the next row starts at this row's top plus its height.
    const drawHeader = () => {
      const top = doc.y;
      this.drawRow(headings, spec.columns, top, headerHeight, 'bold', spec.fontSize, '#DDEBF7');
      doc.y = top + headerHeight;
    };
    const first = spec.rows[0] ? this.rowHeight(spec.rows[0], spec.columns, 'regular', spec.fontSize) : 0;
    this.ensure(headerHeight + first);
    drawHeader();
    // A row never taller than a page under the header (an absurdly long note is clipped).
    const tallest = this.bottom - MARGIN.top - headerHeight;
    for (const row of spec.rows) {
      const h = Math.min(this.rowHeight(row, spec.columns, 'regular', spec.fontSize), tallest);
      if (doc.y + h > this.bottom) {
        doc.addPage();
        drawHeader();
      }
      const top = doc.y;
      this.drawRow(row, spec.columns, top, h, 'regular', spec.fontSize);
      doc.y = top + h;
    }
    doc.x = MARGIN.left;
    doc.moveDown(0.6);
  }
}

/** Column widths as shares of the content width (they sum to 1). */
function columns(spec: [string, number, Align, ('fit' | undefined)?][]): Column[] {
  const total = spec.reduce((s, [, w]) => s + w, 0);
  return spec.map(([heading, w, align, fit]) => ({ heading, width: (w / total) * CONTENT_WIDTH, align, fit: fit === 'fit' }));
}

function statusCell(status: IndicatorStatus, text: string): Cell {
  return { text, style: { fill: STATUS_COLOURS[status].fill, color: STATUS_COLOURS[status].text, bold: true } };
}

function headerBlock(layout: Layout, m: ReportModel): void {
  const doc = layout.doc;
  const top = MARGIN.top;
  const leftW = 0.4 * CONTENT_WIDTH;
  const rightX = MARGIN.left + leftW;
  const rightW = CONTENT_WIDTH - leftW;

  // Issuing body, top left: the committee and the commune in bold capitals, a short rule under them.
  doc.font('regular').fontSize(12).text(m.header.authority[0], MARGIN.left, top, { width: leftW, align: 'center' });
  doc.font('bold').fontSize(12).text(m.header.authority[1], MARGIN.left, doc.y, { width: leftW, align: 'center' });
  const ruleY = doc.y + 2;
  doc.moveTo(MARGIN.left + leftW * 0.33, ruleY).lineTo(MARGIN.left + leftW * 0.67, ruleY).lineWidth(0.6).stroke();
  doc.font('regular').fontSize(11).text(m.header.docNumber, MARGIN.left, ruleY + 8, { width: leftW, align: 'center' });
  const leftBottom = doc.y;

  // National name and motto, top right; the motto underlined across its own width.
  doc.font('bold').fontSize(11).text(m.header.nation, rightX, top, { width: rightW, align: 'center' });
  doc.font('bold').fontSize(12);
  const mottoY = doc.y;
  doc.text(m.header.motto, rightX, mottoY, { width: rightW, align: 'center' });
  const mottoW = doc.widthOfString(m.header.motto);
  const underY = doc.y + 1;
  doc
    .moveTo(rightX + (rightW - mottoW) / 2, underY)
    .lineTo(rightX + (rightW + mottoW) / 2, underY)
    .lineWidth(0.6)
    .stroke();
  doc.font('italic').fontSize(11).text(m.header.dateLine, rightX, underY + 8, { width: rightW, align: 'center' });
  doc.y = Math.max(leftBottom, doc.y) + 22;
  doc.x = MARGIN.left;
}

function titleBlock(layout: Layout, m: ReportModel): void {
  const doc = layout.doc;
  doc.font('bold').fontSize(14).text(m.titleLines[0]!, MARGIN.left, doc.y, { width: CONTENT_WIDTH, align: 'center' });
  doc.font('bold').fontSize(12).text(m.titleLines.slice(1).join(' '), { width: CONTENT_WIDTH, align: 'center' });
  doc.font('italic').fontSize(11).text(m.subtitle, { width: CONTENT_WIDTH, align: 'center' });
  doc.moveDown(1);
}

function indicatorTable(layout: Layout, m: ReportModel): void {
  const lang = m.lang;
  const share: Record<string, [number, Align, ('fit' | undefined)?]> = {
    stt: [20, 'center', 'fit'],
    name: [118, 'left'],
    unit: [38, 'center'],
    target: [36, 'center', 'fit'],
    value: [38, 'right', 'fit'],
    status: [60, 'center', 'fit'],
    responsible: [68, 'left'],
    coverage: [36, 'right', 'fit'],
    note: [86, 'left'],
  };
  layout.table({
    columns: columns(INDICATOR_COLUMN_KEYS.map((k) => [INDICATOR_COLUMNS[k][lang], ...share[k]!])),
    rows: m.indicators.map((r) => [
      String(r.stt),
      r.name,
      r.unit,
      r.targetText,
      r.valueText,
      statusCell(r.status, r.statusText),
      r.responsible,
      r.coverageText,
      r.note,
    ]),
    fontSize: 8,
  });
}

function legend(lang: ReportLang): string {
  return lang === 'vi'
    ? 'Đánh giá: "Đạt" khi kết quả đạt chỉ tiêu; "Chưa đạt" khi chưa đạt; "Không đủ dữ liệu" khi thời gian có dữ liệu quá ít để kết luận (xem mục II).'
    : 'Evaluation: "Met" when the result meets the target; "Not met" when it does not; "Insufficient data" when too little of the period has data to conclude (see II).';
}

function signatureBlock(layout: Layout, m: ReportModel): void {
  const doc = layout.doc;
  const lang = m.lang;
  layout.ensure(130);
  doc.moveDown(1);
  const y = doc.y;
  const leftW = 0.45 * CONTENT_WIDTH;
  doc.font('bold').fontSize(10).text(TEXT.recipients[lang], MARGIN.left, y, { width: leftW });
  doc.font('regular').fontSize(9.5);
  for (const r of TEXT.recipientLines[lang]) doc.text(r, { width: leftW });
  const rightX = MARGIN.left + leftW;
  const rightW = CONTENT_WIDTH - leftW;
  doc.font('bold').fontSize(11).text(TEXT.signer[lang], rightX, y, { width: rightW, align: 'center' });
  doc.font('italic').fontSize(10).text(TEXT.signHint[lang], rightX, doc.y, { width: rightW, align: 'center' });
  doc.y += 60;
  doc.x = MARGIN.left;
}

function appendix(layout: Layout, m: ReportModel): void {
  const doc = layout.doc;
  const lang = m.lang;
  const vi = lang === 'vi';
  doc.addPage();
  doc.font('bold').fontSize(13).text(vi ? 'PHỤ LỤC' : 'APPENDIX', MARGIN.left, MARGIN.top, { width: CONTENT_WIDTH, align: 'center' });
  doc
    .font('bold')
    .fontSize(11)
    .text(vi ? 'Tình trạng hoạt động của thiết bị, tổng hợp theo ấp và độ phủ dữ liệu' : 'Device operation, by hamlet, and data coverage', {
      width: CONTENT_WIDTH,
      align: 'center',
    });
  doc
    .font('italic')
    .fontSize(10)
    .text(
      vi
        ? `(Kèm theo Báo cáo số      /BC-UBND ngày     tháng     năm ${m.issueYear} của UBND ${m.communeDisplayName.replace(/^\S+/u, (w) => w.toLocaleLowerCase('vi'))})`
        : `(Attached to report No.      /BC-UBND of the People's Committee of ${m.communeDisplayName})`,
      { width: CONTENT_WIDTH, align: 'center' },
    );
  doc.moveDown(1);

  const D = DEVICE_COLUMNS;
  const n = (v: number | null, decimals = 1) => formatNumber(v, lang, { decimals, minDecimals: decimals });
  layout.heading(vi ? 'A. TÌNH TRẠNG HOẠT ĐỘNG CỦA THIẾT BỊ' : 'A. DEVICE OPERATION');
  layout.paragraph(
    vi
      ? 'Thời gian tính bằng giờ trong kỳ báo cáo; "Suy giảm" là thiết bị vẫn hoạt động nhưng có cảnh báo; thời gian bảo trì theo kế hoạch không tính vào các cột.'
      : 'Times in hours within the period; "Degraded" means working with a warning; planned maintenance is in none of the columns.',
    { size: 9.5, font: 'italic' },
  );
  m.kinds.forEach((k, i) => {
    layout.heading(`${i + 1}. ${k.label} (${k.rows.length} ${vi ? 'thiết bị' : 'devices'})`, 11);
    layout.table({
      columns: columns([
        [D.stt[lang], 18, 'center', 'fit'],
        [D.name[lang], 92, 'left'],
        [D.hamlet[lang], 50, 'left'],
        [D.role[lang], 54, 'left'],
        [D.availability[lang], 38, 'right', 'fit'],
        [D.upH[lang], 38, 'right', 'fit'],
        [D.degradedH[lang], 34, 'right', 'fit'],
        [D.downH[lang], 36, 'right', 'fit'],
        [D.unknownH[lang], 36, 'right', 'fit'],
        [D.incidents[lang], 28, 'right', 'fit'],
        [vi ? 'Khắc phục TB (phút)' : 'MTTR (min)', 40, 'right'],
      ]),
      rows: k.rows.map((d) => [
        String(d.stt),
        d.name,
        d.hamlet,
        d.role,
        formatPercent(d.availability, lang, { minDecimals: 1 }),
        n(d.upH),
        n(d.degradedH),
        n(d.downH),
        n(d.unknownH),
        formatNumber(d.incidents, lang, { decimals: 0 }),
        formatNumber(d.mttrMin, lang, { decimals: 0 }),
      ]),
      fontSize: 7.5,
    });
  });

  const H = HAMLET_COLUMNS;
  layout.heading(vi ? 'B. TỔNG HỢP THEO ẤP' : 'B. BY HAMLET');
  layout.table({
    columns: columns([
      [H.stt[lang], 20, 'center', 'fit'],
      [H.name[lang], 90, 'left'],
      [H.devices[lang], 40, 'right', 'fit'],
      [H.availability[lang], 60, 'right', 'fit'],
      [H.downH[lang], 50, 'right', 'fit'],
      [H.unknownH[lang], 50, 'right', 'fit'],
      [H.incidents[lang], 40, 'right', 'fit'],
      [H.note[lang], 118, 'left'],
    ]),
    rows: m.hamlets.map((h) => [
      String(h.stt),
      h.name,
      formatNumber(h.devices, lang, { decimals: 0 }),
      formatPercent(h.availability, lang, { minDecimals: 1 }),
      n(h.downH),
      n(h.unknownH),
      formatNumber(h.incidents, lang, { decimals: 0 }),
      h.note,
    ]),
    fontSize: 8,
  });

  layout.heading(vi ? 'C. ĐỘ PHỦ DỮ LIỆU THEO CHỈ TIÊU' : 'C. DATA COVERAGE BY INDICATOR');
  layout.table({
    columns: columns([
      [INDICATOR_COLUMNS.stt[lang], 20, 'center', 'fit'],
      [INDICATOR_COLUMNS.name[lang], 210, 'left'],
      [INDICATOR_COLUMNS.coverage[lang], 55, 'right', 'fit'],
      [TEXT.devicesCounted[lang], 45, 'right', 'fit'],
      [TEXT.unknownHours[lang], 60, 'right', 'fit'],
      [INDICATOR_COLUMNS.status[lang], 75, 'center', 'fit'],
    ]),
    rows: m.coverageRows.map((c) => [
      String(c.stt),
      c.name,
      formatPercent(c.coverage, lang, { minDecimals: 1 }),
      formatNumber(c.devices, lang, { decimals: 0 }),
      n(c.unknownH),
      statusCell(c.status, c.statusText),
    ]),
    fontSize: 8,
  });
}

/** "Trang x/y" centred in the bottom margin of every page, written once the page count is known. */
function pageNumbers(doc: PDFKit.PDFDocument, lang: ReportLang): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Writing inside the bottom margin would make pdfkit start a new page; lift the margin meanwhile.
    const bottom = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font('regular')
      .fontSize(9)
      .fillColor('#333333')
      .text(`${TEXT.page[lang]} ${i + 1}/${range.count}`, MARGIN.left, A4[1] - 12 * MM, { width: CONTENT_WIDTH, align: 'center', lineBreak: false });
    doc.page.margins.bottom = bottom;
  }
}

export async function renderPdf(m: ReportModel, generatedAt: Date, fonts: FontFiles = reportFonts()): Promise<Buffer> {
  const lang = m.lang;
  checkFonts(fonts);
  const doc = new PDFDocument({
    size: 'A4',
    margins: MARGIN,
    bufferPages: true,
    lang: lang === 'vi' ? 'vi-VN' : 'en-GB',
    displayTitle: true,
    info: {
      Title: `${m.titleLines.join(' ')} - ${m.communeDisplayName}`,
      Author: m.communeDisplayName,
      Subject: m.subtitle,
      Creator: 'commune-edge',
      Producer: 'commune-edge (pdfkit)',
      // The report's own time, so the same report renders to the same document.
      CreationDate: generatedAt,
      ModDate: generatedAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  doc.registerFont('regular', fonts.regular);
  doc.registerFont('bold', fonts.bold);
  doc.registerFont('italic', fonts.italic);

  const layout = new Layout(doc);
  headerBlock(layout, m);
  titleBlock(layout, m);
  for (const [label, text] of m.facts) layout.paragraph(`${label}: ${text}`, { size: 10.5, align: 'left', gap: 0.1 });
  doc.moveDown(0.5);
  layout.paragraph(m.coverageNote, { size: 10.5 });

  layout.heading(TEXT.part1[lang]);
  indicatorTable(layout, m);
  layout.paragraph(legend(lang), { size: 9.5, font: 'italic' });

  layout.heading(lang === 'vi' ? 'II. ĐỘ PHỦ DỮ LIỆU' : 'II. DATA COVERAGE');
  for (const p of m.coverageExplanation) layout.paragraph(`- ${p}`, { size: 10.5 });
  if (m.lowCoverageDevices.length === 0) layout.paragraph(TEXT.noneLowCoverage[lang], { size: 10.5 });
  else
    layout.paragraph(
      `- ${TEXT.lowCoverageDevices[lang]}: ${m.lowCoverageDevices.map((d) => `${d.name} (${formatPercent(d.coverage, lang)})`).join('; ')}.`,
      { size: 10.5 },
    );
  layout.paragraph(`${TEXT.machineNote[lang]}`, { size: 9.5, font: 'italic' });

  signatureBlock(layout, m);
  appendix(layout, m);
  pageNumbers(doc, lang);
  doc.end();
  return done;
}

