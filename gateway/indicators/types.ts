/**
 * The indicator contract shared by the engine (gateway/indicators), the IOC feed
 * (gateway/uplink), the half-year report (gateway/report), the API and the
 * dashboard. An indicator is defined once in code; targets and responsible units
 * may be overridden in config (`indicators:`).
 *
 * The shape follows the appendix tables of the commune plans (STT, Nội dung chỉ
 * tiêu, Đơn vị tính, Chỉ tiêu, Kết quả, Đánh giá, Đơn vị theo dõi) and carries
 * numerator and denominator so the province can re-aggregate across communes
 * (sum numerators and denominators; never average percentages).
 */

export interface Label {
  vi: string;
  en: string;
}

export type PeriodKind = 'day' | 'month' | 'quarter' | 'half' | 'year' | 'custom';

export interface Period {
  /** `2026-05-14`, `2026-05`, `2026-Q2`, `2026-H1`, `2026`, or `2026-01-01..2026-03-31` (custom, both days inclusive). */
  id: string;
  kind: PeriodKind;
  /** Epoch ms, inclusive: 00:00 of the first day in `timezone`. */
  from: number;
  /** Epoch ms, exclusive: 00:00 of the day after the last day in `timezone`. */
  to: number;
  /** IANA zone the boundaries were computed in (commune.timezone, Asia/Ho_Chi_Minh). */
  timezone: string;
}

/** How the value is formed; tells a re-aggregator what numerator and denominator are. */
export type IndicatorMethod =
  /** Σ available device-time / Σ known device-time (ms), UNKNOWN and maintenance excluded. */
  | 'time-weighted'
  /** Count of items meeting the condition at the end of the period / items in the inventory. */
  | 'count-at-end'
  /** Count of items meeting the condition during the period (e.g. hamlets covered) / items. */
  | 'count-in-period'
  /** Events counted (numerator) per item (denominator) — incidents. */
  | 'events'
  /** Mean of a duration: Σ minutes (numerator) / number of events (denominator) — MTTR. */
  | 'mean-duration'
  /** Readings received / readings expected. */
  | 'completeness';

export interface Target {
  /** `>=` for availability and coverage, `<=` for MTTR and incidents. */
  op: '>=' | '<=';
  value: number;
}

export type IndicatorStatus = 'DAT' | 'CHUA_DAT' | 'KHONG_DU_DU_LIEU';

export const STATUS_LABEL: Record<IndicatorStatus, Label> = {
  DAT: { vi: 'Đạt', en: 'Met' },
  CHUA_DAT: { vi: 'Chưa đạt', en: 'Not met' },
  KHONG_DU_DU_LIEU: { vi: 'Không đủ dữ liệu', en: 'Insufficient data' },
};

export interface IndicatorDefinition {
  /** Stable id used by the API, the IOC feed and config: `loudspeaker_availability`, ... */
  id: string;
  name: Label;
  /** Đơn vị tính: `%`, `ấp`, `phút`, `sự cố` ... */
  unit: Label;
  method: IndicatorMethod;
  defaultTarget: Target | null;
  /** Đơn vị theo dõi (Vietnamese, as the plans write it), e.g. "Phòng Văn hóa - Xã hội". */
  responsibleUnit: string;
  /** Đơn vị phối hợp, e.g. "Bưu điện xã", "VNPT". */
  cooperatingUnit?: string;
  /** Device kinds (and roles) it is computed from. */
  kinds: { kind: string; roles?: string[] }[];
  /** One or two sentences: what counts, in Vietnamese and English (shown in reports and docs). */
  description: Label;
}

/** One hamlet's or one device's part of an indicator (sums to the commune's numerator/denominator). */
export interface Breakdown {
  id: string;
  name: string;
  value: number | null;
  numerator: number;
  denominator: number;
  /** Share of the period with known state (0..1); null where not time-based. */
  coverage: number | null;
}

export interface DeviceBreakdown extends Breakdown {
  kind: string;
  role: string | undefined;
  hamlet: string;
  /** Milliseconds in each state within the period (maintenance excluded from all four). */
  upMs: number;
  degradedMs: number;
  downMs: number;
  unknownMs: number;
  maintenanceMs: number;
  /** Transitions into DOWN that started within the period. */
  incidents: number;
  /** Mean time to repair of incidents that ended within the period, minutes; null when none ended. */
  mttrMin: number | null;
}

export interface IndicatorResult {
  id: string;
  name: Label;
  unit: Label;
  method: IndicatorMethod;
  /** numerator / denominator in the indicator's unit (× 100 for %); null when the denominator is 0. */
  value: number | null;
  numerator: number;
  denominator: number;
  target: Target | null;
  status: IndicatorStatus;
  /** Data coverage 0..1: known time / (period elapsed − maintenance), over the devices counted. */
  coverage: number | null;
  responsibleUnit: string;
  cooperatingUnit?: string;
  byHamlet: Breakdown[];
  byDevice: DeviceBreakdown[];
  /** Indicator-specific detail, e.g. `{ deadZones: ['ap-07'] }` for cellular coverage. */
  detail?: Record<string, unknown>;
}

export interface IndicatorReport {
  commune: { code: string; name: string; province: { code: string; name: string } };
  gatewayId: string;
  period: Period;
  /** ISO 8601 with offset. */
  generatedAt: string;
  /** Share of the period (so far) the gateway itself was running (its heartbeat), 0..1. */
  gatewayCoverage: number;
  /** The period is not over yet: figures cover [from, generatedAt). */
  partial: boolean;
  indicators: IndicatorResult[];
}
