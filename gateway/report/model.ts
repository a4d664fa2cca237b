/**
 * One document model built from an IndicatorReport, rendered three ways (XLSX,
 * CSV, PDF) so the three say the same thing: the same rows, the same wording of
 * the period, the same notes. Numbers stay numbers here; each renderer formats
 * them for its medium (a numeric cell with a number format, the decimal comma in
 * text).
 */
import { kindById, KIND_IDS } from '../../devices/registry.js';
import {
  STATUS_LABEL,
  type DeviceBreakdown,
  type IndicatorReport,
  type IndicatorResult,
  type IndicatorStatus,
  type Label,
  type Period,
  type Target,
} from '../indicators/types.js';
import {
  dateParts,
  formatDateLineEn,
  formatDateLineVi,
  formatDateTimeVi,
  formatDateVi,
  formatNumber,
  formatPercent,
  msToHours,
  NO_VALUE,
  type ReportLang,
} from './format.js';
import { EXTRA_KIND_LABEL, KIND_SHEET_NAME, roleLabel, TEXT } from './labels.js';

/** Names the report cannot find in the IndicatorReport itself. */
export interface ReportInventory {
  /**
   * Every hamlet of the commune in settings order (`settings.hamlets`): names the
   * hamlets, orders the per-hamlet table and lists hamlets with no device. Without
   * it, hamlets come from the indicators' byHamlet breakdowns (names included).
   */
  hamlets?: { id: string; name: string }[];
}

export interface IndicatorRow {
  stt: number;
  id: string;
  name: string;
  unit: string;
  /** The value is a percentage (unit starts with "%"): formatted with a % sign. */
  percent: boolean;
  target: Target | null;
  targetText: string;
  value: number | null;
  valueText: string;
  status: IndicatorStatus;
  statusText: string;
  responsible: string;
  /** Data coverage in percent (0..100), null where the indicator is not time-based. */
  coverage: number | null;
  coverageText: string;
  note: string;
}

export interface DeviceRow {
  stt: number;
  id: string;
  name: string;
  hamletId: string;
  hamlet: string;
  role: string;
  /** Percent; null when the device had no known time. */
  availability: number | null;
  upH: number;
  degradedH: number;
  downH: number;
  unknownH: number;
  maintenanceH: number;
  incidents: number;
  mttrMin: number | null;
  /** Percent of the period (less maintenance) with a known state. */
  coverage: number | null;
}

export interface KindTable {
  kind: string;
  label: string;
  sheetName: string;
  rows: DeviceRow[];
}

export interface HamletRow {
  stt: number;
  id: string;
  name: string;
  devices: number;
  availability: number | null;
  downH: number;
  unknownH: number;
  incidents: number;
  note: string;
  /** Each indicator's value for this hamlet (indicator id → value), where it has one. */
  byIndicator: Map<string, number | null>;
}

export interface CoverageRow {
  stt: number;
  name: string;
  coverage: number | null;
  devices: number;
  unknownH: number;
  statusText: string;
  status: IndicatorStatus;
}

export interface ReportModel {
  lang: ReportLang;
  timezone: string;
  commune: IndicatorReport['commune'];
  /** "Xã Tà Lài": the unit as documents name it. */
  communeDisplayName: string;
  header: { authority: [string, string]; docNumber: string; nation: string; motto: string; dateLine: string };
  /** ["BÁO CÁO", "KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU HẠ TẦNG SỐ 6 THÁNG ĐẦU NĂM 2026"]. */
  titleLines: string[];
  /** "6 tháng đầu năm 2026". */
  periodPhrase: string;
  /** "(Kỳ báo cáo: từ ngày 01/01/2026 đến ngày 30/06/2026)". */
  subtitle: string;
  generatedAtText: string;
  /** Year of the date line (the appendix refers to the report "ngày ... tháng ... năm 2026"). */
  issueYear: string;
  /** [label, text] pairs shown under the title. */
  facts: [string, string][];
  /** One paragraph: gateway coverage and what UNKNOWN time does to the figures. */
  coverageNote: string;
  /** The Data coverage sheet / section: short paragraphs in plain language. */
  coverageExplanation: string[];
  gatewayCoverage: number;
  indicators: IndicatorRow[];
  kinds: KindTable[];
  hamlets: HamletRow[];
  /** Indicator id and short heading, for the per-hamlet matrix. */
  hamletIndicatorColumns: { id: string; heading: string; percent: boolean }[];
  coverageRows: CoverageRow[];
  lowCoverageDevices: DeviceRow[];
  counts: Record<IndicatorStatus, number>;
  deviceCount: number;
}

const L = <T>(label: { vi: T; en: T }, lang: ReportLang): T => label[lang];

/** Units the plans write as a percentage: "%", "% dân số", "% số ấp". */
export function isPercentUnit(unit: Label): boolean {
  return unit.vi.trim().startsWith('%');
}

/** "Xã Tà Lài" from "Tà Lài" or "xã Tà Lài"; wards and special zones keep their word. */
export function communeDisplayName(name: string): string {
  const m = /^(xã|phường|đặc khu|thị trấn)\s+(.*)$/iu.exec(name.trim());
  if (!m) return `Xã ${name.trim()}`;
  const word = m[1]!.toLocaleLowerCase('vi');
  return `${word[0]!.toLocaleUpperCase('vi')}${word.slice(1)} ${m[2]}`;
}

/** The place on the date line: the name without the unit word ("Tà Lài, ngày ..."). */
function placeName(name: string): string {
  return communeDisplayName(name).replace(/^(Xã|Phường|Đặc khu|Thị trấn)\s+/u, '');
}

function lastDay(period: Period): number {
  // `to` is exclusive (00:00 of the next day): the last day is the one before it.
  return period.to - 1;
}

/** "6 tháng đầu năm 2026", "quý II năm 2026", "tháng 5 năm 2026", ...; English alike. */
export function periodPhrase(period: Period, lang: ReportLang): string {
  const tz = period.timezone;
  const from = dateParts(period.from, tz);
  const year = from.year;
  const month = Number(from.month);
  const roman = ['I', 'II', 'III', 'IV'];
  const monthsEn = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  switch (period.kind) {
    case 'half':
      if (lang === 'vi') return month <= 6 ? `6 tháng đầu năm ${year}` : `6 tháng cuối năm ${year}`;
      return month <= 6 ? `first half of ${year}` : `second half of ${year}`;
    case 'quarter': {
      const q = Math.floor((month - 1) / 3);
      return lang === 'vi' ? `quý ${roman[q]} năm ${year}` : `Q${q + 1} ${year}`;
    }
    case 'month':
      return lang === 'vi' ? `tháng ${month <= 2 ? from.month : month} năm ${year}` : `${monthsEn[month - 1]} ${year}`;
    case 'year':
      return lang === 'vi' ? `năm ${year}` : `${year}`;
    case 'day':
      return lang === 'vi' ? `ngày ${formatDateVi(period.from, tz)}` : `${formatDateVi(period.from, tz)}`;
    case 'custom':
      return lang === 'vi'
        ? `từ ngày ${formatDateVi(period.from, tz)} đến ngày ${formatDateVi(lastDay(period), tz)}`
        : `${formatDateVi(period.from, tz)} to ${formatDateVi(lastDay(period), tz)}`;
  }
}

/** bao-cao-ha-tang-so-12345-2026-H1: ASCII, safe in any file system and HTTP header. */
export function reportFileBase(report: IndicatorReport): string {
  const period = report.period.id.replace(/\.\./g, '_').replace(/[^A-Za-z0-9_-]+/g, '-');
  const code = report.commune.code.replace(/[^A-Za-z0-9_-]+/g, '-');
  return `bao-cao-ha-tang-so-${code}-${period}`;
}

/** The Vietnamese file name for Content-Disposition's filename* ("Báo cáo hạ tầng số - Xã Tà Lài - 6 tháng đầu năm 2026"). */
export function reportFileTitle(report: IndicatorReport, lang: ReportLang): string {
  const phrase = periodPhrase(report.period, lang);
  const name = communeDisplayName(report.commune.name);
  const text = lang === 'vi' ? `Báo cáo hạ tầng số - ${name} - ${phrase}` : `Digital infrastructure report - ${name} - ${phrase}`;
  // No path separators or characters Windows refuses in a file name.
  return text.replace(/[\\/:*?"<>|]+/g, '-');
}

function targetText(target: Target | null, percent: boolean, lang: ReportLang): string {
  if (!target) return NO_VALUE;
  const op = target.op === '>=' ? '≥' : '≤';
  const n = percent ? formatPercent(target.value, lang) : formatNumber(target.value, lang);
  return `${op} ${n}`;
}

/** One decimal, always: a column of results reads evenly ("100,0%" above "98,5%"). */
function valueText(value: number | null, percent: boolean, lang: ReportLang): string {
  return percent ? formatPercent(value, lang, { minDecimals: 1 }) : formatNumber(value, lang, { decimals: 1, minDecimals: 1 });
}

function hamletNamer(report: IndicatorReport, inventory: ReportInventory | undefined): (id: string) => string {
  const names = new Map<string, string>();
  for (const h of inventory?.hamlets ?? []) names.set(h.id, h.name);
  for (const ind of report.indicators) for (const b of ind.byHamlet) if (!names.has(b.id)) names.set(b.id, b.name);
  return (id) => names.get(id) ?? id;
}

/** The per-indicator note (Ghi chú): the fraction behind the value, dead zones, why data is short. */
function indicatorNote(ind: IndicatorResult, lang: ReportLang, hamletName: (id: string) => string): string {
  const parts: string[] = [];
  const n = (v: number, decimals = 0) => formatNumber(v, lang, { decimals });
  const vi = lang === 'vi';
  switch (ind.method) {
    case 'time-weighted':
      if (ind.denominator > 0)
        parts.push(
          vi
            ? `Hoạt động ${n(msToHours(ind.numerator))} / ${n(msToHours(ind.denominator))} giờ thiết bị`
            : `Up ${n(msToHours(ind.numerator))} of ${n(msToHours(ind.denominator))} device-hours`,
        );
      break;
    case 'count-at-end':
      parts.push(vi ? `${n(ind.numerator)} / ${n(ind.denominator)} tại thời điểm cuối kỳ` : `${n(ind.numerator)} of ${n(ind.denominator)} at the end of the period`);
      break;
    case 'count-in-period':
      parts.push(vi ? `${n(ind.numerator)} / ${n(ind.denominator)} trong kỳ` : `${n(ind.numerator)} of ${n(ind.denominator)} in the period`);
      break;
    case 'events':
      parts.push(vi ? `${n(ind.numerator)} sự cố / ${n(ind.denominator)} thiết bị` : `${n(ind.numerator)} incidents, ${n(ind.denominator)} devices`);
      break;
    case 'mean-duration':
      parts.push(vi ? `${n(ind.denominator)} sự cố đã khắc phục` : `${n(ind.denominator)} incidents repaired`);
      break;
    case 'completeness':
      parts.push(vi ? `Nhận ${n(ind.numerator)} / ${n(ind.denominator)} bản tin dự kiến` : `${n(ind.numerator)} of ${n(ind.denominator)} expected readings`);
      break;
  }
  const dead = ind.detail?.['deadZones'];
  if (Array.isArray(dead) && dead.length > 0) {
    const names = dead.map((d) => hamletName(String(d))).join(', ');
    parts.push(vi ? `Vùng lõm sóng: ${names}` : `Dead zones: ${names}`);
  }
  if (ind.status === 'KHONG_DU_DU_LIEU') {
    if (ind.denominator === 0) parts.push(vi ? 'Chưa có thiết bị hoặc dữ liệu để tính' : 'No device or data to compute from');
    else if (ind.coverage !== null)
      parts.push(
        vi
          ? `Chỉ có dữ liệu ${formatPercent(ind.coverage, lang, { fraction: true })} thời gian của kỳ`
          : `Data for only ${formatPercent(ind.coverage, lang, { fraction: true })} of the period`,
      );
  }
  if (ind.cooperatingUnit) parts.push(vi ? `Phối hợp: ${ind.cooperatingUnit}` : `With: ${ind.cooperatingUnit}`);
  return parts.join('; ');
}

function kindLabel(kind: string, lang: ReportLang): string {
  return kindById(kind)?.label[lang] ?? EXTRA_KIND_LABEL[kind]?.[lang] ?? kind;
}

/** Excel sheet names: ≤ 31 characters, none of []:*?/\ (Excel refuses the workbook otherwise). */
export function safeSheetName(name: string, taken: Set<string>): string {
  let base = name.replace(/[[\]:*?/\\]/g, '-').slice(0, 31).trim() || 'Sheet';
  let out = base;
  for (let i = 2; taken.has(out.toLocaleLowerCase('vi')); i++) {
    const suffix = ` (${i})`;
    base = base.slice(0, 31 - suffix.length);
    out = `${base}${suffix}`;
  }
  taken.add(out.toLocaleLowerCase('vi'));
  return out;
}

/**
 * One row per device. A device appears in several indicators (a one-stop camera
 * in its availability and in the IOC connection count); its row comes from a
 * time-weighted indicator when one counts it, since there the value is its
 * availability over the period.
 */
function deviceRows(report: IndicatorReport, lang: ReportLang, hamletName: (id: string) => string): Map<string, DeviceRow[]> {
  const chosen = new Map<string, { d: DeviceBreakdown; timeWeighted: boolean }>();
  for (const ind of report.indicators) {
    const tw = ind.method === 'time-weighted';
    for (const d of ind.byDevice) {
      const had = chosen.get(d.id);
      if (!had || (tw && !had.timeWeighted)) chosen.set(d.id, { d, timeWeighted: tw });
    }
  }
  const byKind = new Map<string, DeviceRow[]>();
  for (const { d, timeWeighted } of chosen.values()) {
    const knownMs = d.upMs + d.degradedMs + d.downMs;
    // Counted only by count-based indicators (office computers): availability from its state times,
    // DEGRADED counted as working (a device that answers with a warning still serves).
    const availability = timeWeighted ? d.value : knownMs > 0 ? ((d.upMs + d.degradedMs) / knownMs) * 100 : null;
    const coverageBase = knownMs + d.unknownMs;
    const row: DeviceRow = {
      stt: 0,
      id: d.id,
      name: d.name,
      hamletId: d.hamlet,
      hamlet: hamletName(d.hamlet),
      role: roleLabel(d.kind, d.role, lang),
      availability,
      upH: msToHours(d.upMs),
      degradedH: msToHours(d.degradedMs),
      downH: msToHours(d.downMs),
      unknownH: msToHours(d.unknownMs),
      maintenanceH: msToHours(d.maintenanceMs),
      incidents: d.incidents,
      mttrMin: d.mttrMin,
      coverage: timeWeighted && d.coverage !== null ? d.coverage * 100 : coverageBase > 0 ? (knownMs / coverageBase) * 100 : null,
    };
    let list = byKind.get(d.kind);
    if (!list) byKind.set(d.kind, (list = []));
    list.push(row);
  }
  return byKind;
}

function kindOrder(kinds: Iterable<string>): string[] {
  const known = KIND_IDS as readonly string[];
  return [...kinds].sort((a, b) => {
    const ia = known.indexOf(a);
    const ib = known.indexOf(b);
    if (ia >= 0 && ib >= 0) return ia - ib;
    if (ia >= 0) return -1;
    if (ib >= 0) return 1;
    return a.localeCompare(b);
  });
}

const collator = new Intl.Collator('vi', { numeric: true });

export function buildReportModel(report: IndicatorReport, lang: ReportLang = 'vi', inventory?: ReportInventory): ReportModel {
  const tz = report.period.timezone;
  const hamletName = hamletNamer(report, inventory);
  const vi = lang === 'vi';
  const displayName = communeDisplayName(report.commune.name);
  const phrase = periodPhrase(report.period, lang);
  const generatedMs = Date.parse(report.generatedAt);
  const fromText = formatDateVi(report.period.from, tz);
  const untilText = report.partial ? formatDateTimeVi(generatedMs, tz) : formatDateVi(lastDay(report.period), tz);

  const indicators: IndicatorRow[] = report.indicators.map((ind, i) => {
    const percent = isPercentUnit(ind.unit);
    return {
      stt: i + 1,
      id: ind.id,
      name: ind.name[lang],
      unit: ind.unit[lang],
      percent,
      target: ind.target,
      targetText: targetText(ind.target, percent, lang),
      value: ind.value,
      valueText: valueText(ind.value, percent, lang),
      status: ind.status,
      statusText: STATUS_LABEL[ind.status][lang],
      responsible: ind.responsibleUnit,
      coverage: ind.coverage === null ? null : ind.coverage * 100,
      coverageText: formatPercent(ind.coverage, lang, { fraction: true, minDecimals: 1 }),
      note: indicatorNote(ind, lang, hamletName),
    };
  });

  // Device tables, one per kind, devices ordered by hamlet then name (natural order: "Ấp 2" before "Ấp 10").
  const byKind = deviceRows(report, lang, hamletName);
  const hamletIndex = new Map((inventory?.hamlets ?? []).map((h, i) => [h.id, i]));
  const taken = new Set<string>([TEXT.sheetIndicators, TEXT.sheetCoverage, TEXT.sheetHamlets].map((t) => t[lang].toLocaleLowerCase('vi')));
  const kinds: KindTable[] = kindOrder(byKind.keys()).map((kind) => {
    const rows = byKind.get(kind)!;
    rows.sort(
      (a, b) =>
        (hamletIndex.get(a.hamletId) ?? Infinity) - (hamletIndex.get(b.hamletId) ?? Infinity) ||
        collator.compare(a.hamlet, b.hamlet) ||
        collator.compare(a.name, b.name),
    );
    rows.forEach((r, i) => (r.stt = i + 1));
    const label = kindLabel(kind, lang);
    return { kind, label, sheetName: safeSheetName(KIND_SHEET_NAME[kind]?.[lang] ?? label, taken), rows };
  });
  const allDevices = kinds.flatMap((k) => k.rows);

  // Hamlets: the inventory's list when given, else every hamlet any breakdown names.
  const hamletIds: string[] = inventory?.hamlets?.map((h) => h.id) ?? [];
  const seen = new Set(hamletIds);
  const addHamlet = (id: string) => {
    if (!seen.has(id)) {
      seen.add(id);
      hamletIds.push(id);
    }
  };
  for (const ind of report.indicators) for (const b of ind.byHamlet) addHamlet(b.id);
  for (const d of allDevices) addHamlet(d.hamletId);
  if (!inventory?.hamlets) hamletIds.sort((a, b) => collator.compare(a, b));
  const deadZones = new Set<string>();
  for (const ind of report.indicators) {
    const dz = ind.detail?.['deadZones'];
    if (Array.isArray(dz)) for (const h of dz) deadZones.add(String(h));
  }
  const hamlets: HamletRow[] = hamletIds.map((id, i) => {
    const devs = allDevices.filter((d) => d.hamletId === id);
    const up = devs.reduce((s, d) => s + d.upH + d.degradedH, 0);
    const known = up + devs.reduce((s, d) => s + d.downH, 0);
    const byIndicator = new Map<string, number | null>();
    for (const ind of report.indicators) {
      const b = ind.byHamlet.find((x) => x.id === id);
      if (b) byIndicator.set(ind.id, b.value);
    }
    const notes: string[] = [];
    if (deadZones.has(id)) notes.push(vi ? 'Vùng lõm sóng di động' : 'Mobile dead zone');
    if (devs.length === 0) notes.push(vi ? 'Chưa có thiết bị giám sát' : 'No monitored device');
    return {
      stt: i + 1,
      id,
      name: hamletName(id),
      devices: devs.length,
      availability: known > 0 ? (up / known) * 100 : null,
      downH: devs.reduce((s, d) => s + d.downH, 0),
      unknownH: devs.reduce((s, d) => s + d.unknownH, 0),
      incidents: devs.reduce((s, d) => s + d.incidents, 0),
      note: notes.join('; '),
      byIndicator,
    };
  });
  const hamletIndicatorColumns = report.indicators
    .filter((ind) => ind.byHamlet.length > 0)
    .map((ind) => ({ id: ind.id, heading: `${ind.name[lang]} (${ind.unit[lang]})`, percent: isPercentUnit(ind.unit) }));

  const coverageRows: CoverageRow[] = report.indicators.map((ind, i) => ({
    stt: i + 1,
    name: ind.name[lang],
    coverage: ind.coverage === null ? null : ind.coverage * 100,
    devices: new Set(ind.byDevice.map((d) => d.id)).size,
    unknownH: msToHours(ind.byDevice.reduce((s, d) => s + d.unknownMs, 0)),
    status: ind.status,
    statusText: STATUS_LABEL[ind.status][lang],
  }));
  const lowCoverageDevices = allDevices.filter((d) => d.coverage !== null && d.coverage < 90).sort((a, b) => (a.coverage ?? 0) - (b.coverage ?? 0));

  const counts: Record<IndicatorStatus, number> = { DAT: 0, CHUA_DAT: 0, KHONG_DU_DU_LIEU: 0 };
  for (const ind of report.indicators) counts[ind.status]++;

  const gwPct = formatPercent(report.gatewayCoverage, lang, { fraction: true });
  const coverageNote = vi
    ? `Độ phủ dữ liệu: thiết bị giám sát (gateway) hoạt động ${gwPct} thời gian của kỳ báo cáo. ` +
      'Thời gian không rõ trạng thái thiết bị (gateway tắt hoặc mất điện, thiết bị chưa từng kết nối, lắp đặt giữa kỳ) ' +
      'và thời gian bảo trì theo kế hoạch không tính vào tỷ lệ hoạt động; phần thời gian có dữ liệu của từng chỉ tiêu ghi ở cột "Độ phủ dữ liệu".'
    : `Data coverage: the monitoring gateway was running ${gwPct} of the period. ` +
      'Time when a device’s state is unknown (gateway off or without power, device never connected, installed mid-period) ' +
      'and planned maintenance are left out of availability; each indicator’s share of time with data is in the "Data coverage" column.';
  const coverageExplanation = vi
    ? [
        'Độ phủ dữ liệu là phần thời gian của kỳ báo cáo mà hệ thống biết chắc trạng thái của thiết bị (đang hoạt động, suy giảm hay gián đoạn).',
        'Thời gian "không rõ" là khi hệ thống không có thông tin về thiết bị: thiết bị giám sát tại trụ sở (gateway) bị tắt hoặc mất điện, thiết bị chưa từng kết nối, hoặc thiết bị mới lắp đặt giữa kỳ. Thời gian này không bị coi là gián đoạn và không được tính vào tỷ lệ hoạt động.',
        'Thời gian bảo trì theo kế hoạch (khai báo trước trong cấu hình) cũng không được tính vào tỷ lệ hoạt động.',
        'Tỷ lệ hoạt động = thời gian hoạt động / thời gian có trạng thái đã biết. Ví dụ: một cụm loa hoạt động 170 giờ, gián đoạn 10 giờ và không rõ 20 giờ có tỷ lệ hoạt động 170/180 = 94,4% và độ phủ dữ liệu 180/200 = 90%.',
        'Khi độ phủ dữ liệu quá thấp để kết luận, chỉ tiêu được đánh giá "Không đủ dữ liệu" thay vì "Đạt" hoặc "Chưa đạt".',
        'Khi tổng hợp nhiều xã, cộng tử số và mẫu số của các xã rồi mới chia; không lấy trung bình các tỷ lệ phần trăm.',
      ]
    : [
        'Data coverage is the share of the period in which the system knows the state of a device (up, degraded or down).',
        '"Unknown" time is when the system has no information about a device: the gateway in the commune office was off or without power, the device never connected, or it was installed during the period. This time is not counted as down time and is left out of availability.',
        'Planned maintenance (declared in the configuration) is left out of availability too.',
        'Availability = up time / time with a known state. Example: a loudspeaker up 170 hours, down 10 hours and unknown 20 hours has availability 170/180 = 94.4% and data coverage 180/200 = 90%.',
        'When data coverage is too low to conclude, the indicator is evaluated "Insufficient data" instead of "Met" or "Not met".',
        'To aggregate communes, add their numerators and denominators, then divide; never average percentages.',
      ];

  const dateLine = vi ? `${placeName(report.commune.name)}, ${formatDateLineVi(generatedMs, tz)}` : `${placeName(report.commune.name)}, ${formatDateLineEn(generatedMs, tz)}`;
  const subtitle = vi
    ? report.partial
      ? `(Kỳ báo cáo chưa kết thúc: số liệu từ ngày ${fromText} đến ${untilText})`
      : `(Kỳ báo cáo: từ ngày ${fromText} đến ngày ${untilText})`
    : report.partial
      ? `(Period not over yet: figures from ${fromText} to ${untilText})`
      : `(Reporting period: ${fromText} to ${untilText})`;

  return {
    lang,
    timezone: tz,
    commune: report.commune,
    communeDisplayName: displayName,
    header: {
      authority: [L(TEXT.committee, lang), vi ? displayName.toLocaleUpperCase('vi') : `${placeName(report.commune.name).toUpperCase()} COMMUNE`],
      docNumber: L(TEXT.docNumber, lang),
      nation: L(TEXT.nation, lang),
      motto: L(TEXT.motto, lang),
      dateLine,
    },
    titleLines: [L(TEXT.report, lang), `${L(TEXT.subject, lang)} ${phrase.toLocaleUpperCase(vi ? 'vi' : 'en')}`],
    periodPhrase: phrase,
    subtitle,
    generatedAtText: formatDateTimeVi(generatedMs, tz),
    issueYear: dateParts(generatedMs, tz).year,
    facts: [
      [L(TEXT.period, lang), `${phrase} (${fromText} – ${untilText})`],
      [L(TEXT.communeCode, lang), `${report.commune.code} (${report.commune.province.name}, ${report.commune.province.code})`],
      [L(TEXT.gateway, lang), report.gatewayId],
      [L(TEXT.generatedAt, lang), formatDateTimeVi(generatedMs, tz)],
      [L(TEXT.gatewayCoverage, lang), gwPct],
    ],
    coverageNote,
    coverageExplanation,
    gatewayCoverage: report.gatewayCoverage,
    indicators,
    kinds,
    hamlets,
    hamletIndicatorColumns,
    coverageRows,
    lowCoverageDevices,
    counts,
    deviceCount: allDevices.length,
  };
}
