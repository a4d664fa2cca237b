/**
 * Number and date formatting for documents meant for people: the report (PDF,
 * CSV) and the dashboard. Vietnamese writes the decimal comma and the thousands
 * dot (1.234,5), dates day first (30/06/2026), and per Decree 30/2020/NĐ-CP
 * (Phụ lục I, "địa danh và thời gian ban hành văn bản") the date line of an
 * administrative document writes days below 10 and the months 1 and 2 with a
 * leading zero: "ngày 05 tháng 02 năm 2026".
 *
 * Numbers go through Intl.NumberFormat (ICU, full data ships with Node 20), so the
 * separators are the CLDR ones for the locale and not hand-rolled.
 */

export type ReportLang = 'vi' | 'en';

/** The locale whose number conventions a language's documents follow. */
export const LOCALE: Record<ReportLang, string> = { vi: 'vi-VN', en: 'en-GB' };

/** Shown where a value does not exist (no devices counted, no incident ended). */
export const NO_VALUE = '—';

export const DEFAULT_TIMEZONE = 'Asia/Ho_Chi_Minh';

export interface NumberFormatOptions {
  /** Most digits after the decimal separator (default 1). */
  decimals?: number;
  /** Fewest digits after the separator (default 0: 100 stays "100", not "100,0"). */
  minDecimals?: number;
  /** Thousands grouping (default true: 1.234.567). */
  grouping?: boolean;
}

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(locale: string, o: NumberFormatOptions): Intl.NumberFormat {
  const max = o.decimals ?? 1;
  const min = Math.min(o.minDecimals ?? 0, max);
  const grouping = o.grouping ?? true;
  const key = `${locale}|${min}|${max}|${grouping}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { minimumFractionDigits: min, maximumFractionDigits: max, useGrouping: grouping });
    numberFormats.set(key, f);
  }
  return f;
}

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** A number in the given language's convention; null, NaN and ±∞ give "—". */
export function formatNumber(value: number | null | undefined, lang: ReportLang, o: NumberFormatOptions = {}): string {
  if (!finite(value)) return NO_VALUE;
  const text = numberFormat(LOCALE[lang], o).format(value);
  // "-0" after rounding (-0.04 → "-0") reads as a sign error in a table.
  return /^-0([.,]0*)?$/.test(text) ? text.slice(1) : text;
}

/** 1234567.25 → "1.234.567,3"; 99.5 → "99,5". */
export function formatNumberVi(value: number | null | undefined, o: NumberFormatOptions = {}): string {
  return formatNumber(value, 'vi', o);
}

export interface PercentFormatOptions extends NumberFormatOptions {
  /** The value is a fraction 0..1 (data coverage) rather than already ×100. */
  fraction?: boolean;
}

/**
 * A percentage as the plans write it, with no space before the sign ("85%",
 * "99,5%"). Indicator values are already ×100; data coverage is a fraction, pass
 * `{ fraction: true }`.
 */
export function formatPercent(value: number | null | undefined, lang: ReportLang, o: PercentFormatOptions = {}): string {
  if (!finite(value)) return NO_VALUE;
  return `${formatNumber(o.fraction ? value * 100 : value, lang, o)}%`;
}

export function formatPercentVi(value: number | null | undefined, o: PercentFormatOptions = {}): string {
  return formatPercent(value, 'vi', o);
}

type DateInput = number | Date | string;

function toDate(d: DateInput): Date {
  return d instanceof Date ? d : new Date(d);
}

interface DateParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
}

const partFormats = new Map<string, Intl.DateTimeFormat>();

/** Calendar fields of an instant in a zone (formatToParts: independent of ICU's date patterns). */
export function dateParts(d: DateInput, timeZone = DEFAULT_TIMEZONE): DateParts {
  let f = partFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    partFormats.set(timeZone, f);
  }
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(toDate(d))) out[p.type] = p.value;
  return { year: out['year']!, month: out['month']!, day: out['day']!, hour: out['hour']!, minute: out['minute']! };
}

/** dd/mm/yyyy in the commune's zone (Asia/Ho_Chi_Minh unless told). Invalid input gives "—". */
export function formatDateVi(d: DateInput, timeZone = DEFAULT_TIMEZONE): string {
  if (Number.isNaN(toDate(d).getTime())) return NO_VALUE;
  const p = dateParts(d, timeZone);
  return `${p.day}/${p.month}/${p.year}`;
}

/** "08:15 01/07/2026": time first, as Vietnamese documents write a moment. */
export function formatDateTimeVi(d: DateInput, timeZone = DEFAULT_TIMEZONE): string {
  if (Number.isNaN(toDate(d).getTime())) return NO_VALUE;
  const p = dateParts(d, timeZone);
  return `${p.hour}:${p.minute} ${p.day}/${p.month}/${p.year}`;
}

/**
 * The date line of an administrative document, "ngày 05 tháng 02 năm 2026".
 * Decree 30/2020/NĐ-CP, Phụ lục I (thời gian ban hành văn bản): days below 10 and
 * the months 1 and 2 take a leading zero (so "tháng 02" but "tháng 7").
 */
export function formatDateLineVi(d: DateInput, timeZone = DEFAULT_TIMEZONE): string {
  const p = dateParts(d, timeZone);
  const month = Number(p.month);
  return `ngày ${p.day} tháng ${month <= 2 ? p.month : String(month)} năm ${p.year}`;
}

/** "1 July 2026" for the English edition. */
export function formatDateLineEn(d: DateInput, timeZone = DEFAULT_TIMEZONE): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, day: 'numeric', month: 'long', year: 'numeric' }).format(toDate(d));
}

/** Milliseconds as hours, the unit of the device tables. */
export function msToHours(ms: number): number {
  return ms / 3_600_000;
}
