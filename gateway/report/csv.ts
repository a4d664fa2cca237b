/**
 * The report as CSV, one table per file: the indicator table by default, or the
 * device or hamlet table (`table`). One table per file, not sections in one file,
 * because a CSV with several headers does not open as a table in Excel or parse
 * with any CSV reader.
 *
 * Vietnamese-locale Excel reads a CSV with the list separator and decimal symbol
 * of Windows' regional settings: ";" and "," for Vietnamese. So the vi edition
 * writes ";" between fields and the decimal comma (no thousands separator, so a
 * number is one token), and starts with the UTF-8 byte-order mark, without which
 * Excel decodes the file in the ANSI code page and garbles the diacritics. The en
 * edition writes "," and the decimal point. Quoting and line ends follow RFC 4180
 * §2: CRLF, fields with the separator, a quote or a line break in double quotes,
 * a quote doubled.
 */
import { DEVICE_COLUMNS, HAMLET_COLUMNS, INDICATOR_COLUMNS, INDICATOR_COLUMN_KEYS } from './labels.js';
import type { ReportModel } from './model.js';
import type { ReportLang } from './format.js';

export type CsvTable = 'indicators' | 'devices' | 'hamlets';
export const CSV_TABLES: readonly CsvTable[] = ['indicators', 'devices', 'hamlets'];

export const CSV_SEPARATOR: Record<ReportLang, string> = { vi: ';', en: ',' };
const BOM = '\uFEFF';

type Cell = string | number | null;

function numberText(value: number, lang: ReportLang, decimals: number): string {
  // Fixed rounding, then the locale's decimal symbol; no grouping: "1234,5" not "1.234,5".
  const rounded = Number(value.toFixed(decimals));
  const text = String(rounded);
  return lang === 'vi' ? text.replace('.', ',') : text;
}

/** RFC 4180 §2.6-2.7, plus CSV-injection defence for text cells (OWASP: a leading = + - @ is a formula in Excel). */
function field(cell: Cell, lang: ReportLang, decimals: number): string {
  if (cell === null) return '';
  let text = typeof cell === 'number' ? (Number.isFinite(cell) ? numberText(cell, lang, decimals) : '') : cell;
  if (typeof cell === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  const needsQuotes = text.includes(CSV_SEPARATOR[lang]) || /["\r\n]/.test(text);
  return needsQuotes ? `"${text.replace(/"/g, '""')}"` : text;
}

function toCsv(header: string[], rows: Cell[][], lang: ReportLang, decimals: number[]): string {
  const sep = CSV_SEPARATOR[lang];
  const lines = [header.map((h) => field(h, lang, 0)).join(sep)];
  for (const row of rows) lines.push(row.map((c, i) => field(c, lang, decimals[i] ?? 2)).join(sep));
  return BOM + lines.join('\r\n') + '\r\n';
}

export function renderCsv(m: ReportModel, table: CsvTable = 'indicators'): Buffer {
  const lang = m.lang;
  const pct = (label: string) => `${label} (%)`;
  if (table === 'indicators') {
    // Result and coverage are plain numbers (no "%": Excel would read "99,5%" as 0,995);
    // the unit column says what the result is in.
    const header = INDICATOR_COLUMN_KEYS.map((k) => (k === 'coverage' ? pct(INDICATOR_COLUMNS[k][lang]) : INDICATOR_COLUMNS[k][lang]));
    const rows = m.indicators.map((r) => [r.stt, r.name, r.unit, r.target ? r.targetText : null, r.value, r.statusText, r.responsible, r.coverage, r.note]);
    return Buffer.from(toCsv(header, rows, lang, [0, 0, 0, 0, 2, 0, 0, 2, 0]), 'utf8');
  }
  if (table === 'devices') {
    const kindHeading = lang === 'vi' ? 'Loại thiết bị' : 'Kind';
    const idHeading = lang === 'vi' ? 'Mã thiết bị' : 'Device id';
    const D = DEVICE_COLUMNS;
    const header = [
      D.stt[lang],
      kindHeading,
      D.name[lang],
      idHeading,
      D.hamlet[lang],
      D.role[lang],
      pct(D.availability[lang]),
      D.upH[lang],
      D.degradedH[lang],
      D.downH[lang],
      D.unknownH[lang],
      D.maintenanceH[lang],
      D.incidents[lang],
      D.mttrMin[lang],
      pct(D.coverage[lang]),
    ];
    let stt = 0;
    const rows = m.kinds.flatMap((k) =>
      k.rows.map((d) => [
        ++stt,
        k.label,
        d.name,
        d.id,
        d.hamlet,
        d.role,
        d.availability,
        d.upH,
        d.degradedH,
        d.downH,
        d.unknownH,
        d.maintenanceH,
        d.incidents,
        d.mttrMin,
        d.coverage,
      ]),
    );
    return Buffer.from(toCsv(header, rows, lang, [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 0, 1, 2]), 'utf8');
  }
  const H = HAMLET_COLUMNS;
  const header = [
    H.stt[lang],
    H.name[lang],
    H.devices[lang],
    pct(H.availability[lang]),
    H.downH[lang],
    H.unknownH[lang],
    H.incidents[lang],
    H.note[lang],
    ...m.hamletIndicatorColumns.map((c) => c.heading),
  ];
  const rows = m.hamlets.map((h) => [
    h.stt,
    h.name,
    h.devices,
    h.availability,
    h.downH,
    h.unknownH,
    h.incidents,
    h.note,
    ...m.hamletIndicatorColumns.map((c) => h.byIndicator.get(c.id) ?? null),
  ]);
  return Buffer.from(toCsv(header, rows, lang, [0, 0, 0, 2, 2, 2, 0, 0, ...m.hamletIndicatorColumns.map(() => 2)]), 'utf8');
}
