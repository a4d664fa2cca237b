/**
 * A realistic IndicatorReport for the first half of 2026, built without a store:
 * a commune of 19 hamlets (as Tà Lài has) with 67 devices of every kind and 15
 * indicators, one "Chưa đạt" (a one-stop-shop camera not reaching the IOC at the
 * end of the period) and one "Không đủ dữ liệu" (soil probes installed in May).
 *
 * Used by the report tests, and to preview the report's layout with no data
 * (`renderReport(sampleReport(), ...)`). The figures are generated from per-device
 * state times with a fixed seed, and every indicator's numerator and denominator
 * is the sum of its per-device and per-hamlet breakdowns, as the engine's are.
 * The administrative code is made up.
 */
import type { Breakdown, DeviceBreakdown, IndicatorMethod, IndicatorReport, IndicatorResult, IndicatorStatus, Label, Target } from '../indicators/types.js';
import { mulberry32 as prng } from '../../devices/prng.js';

const H = 3_600_000;
const DAY = 24 * H;

/** 00:00 +07:00 on 1 January and 1 July 2026. */
const FROM = Date.UTC(2025, 11, 31, 17);
const TO = Date.UTC(2026, 5, 30, 17);
const PERIOD_MS = TO - FROM;
/** The gateway was off 56 h in the half-year (power cuts at the commune office). */
const GATEWAY_OFF_MS = 56 * H;

export const SAMPLE_HAMLETS: { id: string; name: string }[] = [
  'Ấp 1',
  'Ấp 2',
  'Ấp 3',
  'Ấp 4',
  'Ấp 5',
  'Ấp Phú Lâm',
  'Ấp Phú Tân',
  'Ấp Đắc Lua',
  'Ấp Liên Nghĩa',
  'Ấp Bàu Sen',
  'Ấp Hòa Bình',
  'Ấp Thanh Sơn',
  'Ấp Vĩnh An',
  'Ấp Mỹ Lộc',
  'Ấp Bến Cộ',
  'Ấp Suối Đá',
  'Ấp Xuân Thọ',
  'Ấp Bàu Tràm',
  'Ấp Tà Lài',
].map((name, i) => ({ id: `ap-${String(i + 1).padStart(2, '0')}`, name }));


interface SampleDevice {
  id: string;
  name: string;
  kind: string;
  role: string;
  hamlet: string;
  upMs: number;
  degradedMs: number;
  downMs: number;
  unknownMs: number;
  maintenanceMs: number;
  incidents: number;
  /** Minutes of each incident that ended in the period. */
  repairsMin: number[];
  /** Meets the count-at-end condition (connected to the IOC, seen on the LAN, in service). */
  okAtEnd: boolean;
}

interface DeviceSpec {
  id: string;
  name: string;
  kind: string;
  role: string;
  hamlet: string;
  /** Availability over known time, 0..1. */
  availability: number;
  /** Unknown time beyond the gateway's own outages (installed mid-period, never seen). */
  extraUnknownMs?: number;
  maintenanceMs?: number;
  okAtEnd?: boolean;
}

function devicesOf(rand: () => number): SampleDevice[] {
  const specs: DeviceSpec[] = [];
  const jitter = (base: number, spread: number) => Math.min(1, base + (rand() - 0.5) * spread);
  for (const h of SAMPLE_HAMLETS)
    specs.push({ id: `loa-${h.id.slice(3)}`, name: `Cụm loa ${h.name}`, kind: 'loudspeaker', role: 'hamlet', hamlet: h.id, availability: jitter(0.985, 0.02) });
  specs.push({ id: 'loa-dai-xa', name: 'Đài truyền thanh xã', kind: 'loudspeaker', role: 'center', hamlet: 'ap-03', availability: 0.999 });
  for (let i = 1; i <= 4; i++)
    specs.push({
      id: `cam-mc-${i}`,
      name: `Camera một cửa ${i}`,
      kind: 'camera',
      role: 'onestop',
      hamlet: 'ap-03',
      availability: i === 2 ? 0.993 : 0.996,
      // Camera 3 lost its IOC link on 28/06 and was not reconnected by 30/06.
      okAtEnd: i !== 3,
    });
  const securitySites = ['ap-01', 'ap-02', 'ap-05', 'ap-07', 'ap-10', 'ap-14'];
  securitySites.forEach((h, i) =>
    specs.push({ id: `cam-an-${i + 1}`, name: `Camera tầm cao ${i + 1}`, kind: 'camera', role: 'security', hamlet: h, availability: jitter(0.96, 0.05) }),
  );
  specs.push({ id: 'cam-gt-1', name: 'Camera giao thông ngã ba Tà Lài', kind: 'camera', role: 'traffic', hamlet: 'ap-19', availability: 0.972 });
  specs.push({ id: 'cam-gt-2', name: 'Camera giao thông cầu Bến Cộ', kind: 'camera', role: 'traffic', hamlet: 'ap-15', availability: 0.951 });
  specs.push({ id: 'cam-nn-1', name: 'Camera vườn mẫu 1', kind: 'camera', role: 'farm', hamlet: 'ap-08', availability: 0.93, extraUnknownMs: 40 * DAY });
  specs.push({ id: 'cam-nn-2', name: 'Camera vườn mẫu 2', kind: 'camera', role: 'farm', hamlet: 'ap-08', availability: 0.95, extraUnknownMs: 40 * DAY });
  specs.push({ id: 'wan-vnpt', name: 'Đường truyền Internet VNPT', kind: 'network', role: 'wan', hamlet: 'ap-03', availability: 0.9982, maintenanceMs: 4 * H });
  specs.push({ id: 'wan-viettel', name: 'Đường truyền Internet Viettel (dự phòng)', kind: 'network', role: 'wan', hamlet: 'ap-03', availability: 0.9975 });
  specs.push({ id: 'tslcd', name: 'Mạng truyền số liệu chuyên dùng', kind: 'network', role: 'tslcd', hamlet: 'ap-03', availability: 0.9991 });
  specs.push({ id: 'fw-01', name: 'Tường lửa trụ sở', kind: 'network', role: 'firewall', hamlet: 'ap-03', availability: 0.9995, maintenanceMs: 2 * H });
  specs.push({ id: 'sw-01', name: 'Switch tầng 1', kind: 'network', role: 'lan_switch', hamlet: 'ap-03', availability: 0.9997 });
  specs.push({ id: 'sw-02', name: 'Switch tầng 2', kind: 'network', role: 'lan_switch', hamlet: 'ap-03', availability: 0.9993 });
  const wifiSites: [string, string][] = [
    ['ap-03', 'Wi-Fi Trung tâm văn hóa xã'],
    ['ap-06', 'Wi-Fi nhà văn hóa ấp Phú Lâm'],
    ['ap-09', 'Wi-Fi nhà văn hóa ấp Liên Nghĩa'],
    ['ap-12', 'Wi-Fi điểm sinh hoạt ấp Thanh Sơn'],
    ['ap-15', 'Wi-Fi chợ Bến Cộ'],
    ['ap-19', 'Wi-Fi bến đò Tà Lài'],
  ];
  wifiSites.forEach(([h, name], i) =>
    specs.push({ id: `wifi-cc-${i + 1}`, name, kind: 'wifi_ap', role: 'public', hamlet: h, availability: jitter(0.975, 0.03) }),
  );
  specs.push({ id: 'wifi-cv-1', name: 'Wi-Fi công vụ tầng 1', kind: 'wifi_ap', role: 'government', hamlet: 'ap-03', availability: 0.998 });
  specs.push({ id: 'wifi-cv-2', name: 'Wi-Fi công vụ tầng 2', kind: 'wifi_ap', role: 'government', hamlet: 'ap-03', availability: 0.997 });
  for (let i = 1; i <= 6; i++)
    specs.push({
      id: `dat-${i}`,
      name: `Cảm biến độ ẩm đất vườn ${i <= 3 ? 'sầu riêng' : 'cà phê'} ${((i - 1) % 3) + 1}`,
      kind: 'soil_probe',
      role: 'farm',
      hamlet: i <= 3 ? 'ap-08' : 'ap-11',
      availability: jitter(0.97, 0.03),
      // Installed 10/05/2026: the first 129 days of the half-year have no data.
      extraUnknownMs: 129 * DAY,
    });
  specs.push({ id: 'vconf-01', name: 'Hệ thống hội nghị truyền hình trực tuyến', kind: 'vconf', role: 'office', hamlet: 'ap-03', availability: 0.996 });
  specs.push({ id: 'ups-tru-so', name: 'UPS trụ sở UBND xã', kind: 'power', role: 'office', hamlet: 'ap-03', availability: 0.984 });
  specs.push({ id: 'ups-tu-mang', name: 'UPS tủ mạng', kind: 'power', role: 'rack', hamlet: 'ap-03', availability: 0.991 });
  specs.push({ id: 'ups-ap-08', name: 'UPS trạm loa ấp Đắc Lua', kind: 'power', role: 'hamlet', hamlet: 'ap-08', availability: 0.975 });
  specs.push({ id: 'ups-ap-16', name: 'UPS trạm loa ấp Suối Đá', kind: 'power', role: 'hamlet', hamlet: 'ap-16', availability: 0.975 });
  for (let i = 1; i <= 6; i++)
    specs.push({ id: `pc-${String(i).padStart(2, '0')}`, name: `Máy tính bộ phận một cửa ${i}`, kind: 'computer', role: 'office', hamlet: 'ap-03', availability: 0.99 });

  return specs.map((s) => {
    const maintenanceMs = s.maintenanceMs ?? 0;
    const unknownMs = GATEWAY_OFF_MS + (s.extraUnknownMs ?? 0) + Math.round(rand() * 6) * H;
    const knownMs = PERIOD_MS - maintenanceMs - unknownMs;
    const availableMs = Math.round(knownMs * s.availability);
    const downMs = knownMs - availableMs;
    const degradedMs = Math.round(availableMs * rand() * 0.01);
    // One incident per ~4 h of down time, at least one if it was ever down.
    const incidents = downMs > 0 ? Math.max(1, Math.round(downMs / (4 * H))) : 0;
    const ended = incidents > 0 && rand() < 0.15 ? incidents - 1 : incidents;
    const repairsMin: number[] = [];
    for (let k = 0; k < ended; k++) repairsMin.push(Math.round(downMs / 60_000 / incidents));
    return {
      id: s.id,
      name: s.name,
      kind: s.kind,
      role: s.role,
      hamlet: s.hamlet,
      upMs: availableMs - degradedMs,
      degradedMs,
      downMs,
      unknownMs,
      maintenanceMs,
      incidents,
      repairsMin,
      okAtEnd: s.okAtEnd ?? true,
    };
  });
}

interface Definition {
  id: string;
  name: Label;
  unit: Label;
  method: IndicatorMethod;
  target: Target | null;
  responsibleUnit: string;
  cooperatingUnit?: string;
}

/** A device's part: numerator and denominator by the indicator's method. */
type Part = (d: SampleDevice) => { numerator: number; denominator: number };

const knownMs = (d: SampleDevice) => d.upMs + d.degradedMs + d.downMs;
const timeWeighted: Part = (d) => ({ numerator: d.upMs + d.degradedMs, denominator: knownMs(d) });

function ratio(numerator: number, denominator: number, percent: boolean): number | null {
  if (denominator === 0) return null;
  return percent ? (numerator / denominator) * 100 : numerator / denominator;
}

function statusOf(value: number | null, target: Target | null, coverage: number | null): IndicatorStatus {
  // Below half the period known, a figure says more about the gateway than about the devices.
  if (value === null || (coverage !== null && coverage < 0.5)) return 'KHONG_DU_DU_LIEU';
  if (!target) return 'DAT';
  return (target.op === '>=' ? value >= target.value : value <= target.value) ? 'DAT' : 'CHUA_DAT';
}

function indicator(def: Definition, devices: SampleDevice[], part: Part, o: { percent: boolean; timeBased: boolean; hamletPart?: (h: string, ds: SampleDevice[]) => { numerator: number; denominator: number }; hamletName: (id: string) => string; detail?: Record<string, unknown> }): IndicatorResult {
  const coverageOf = (ds: SampleDevice[]) => {
    if (!o.timeBased) return null;
    const known = ds.reduce((s, d) => s + knownMs(d), 0);
    const all = ds.reduce((s, d) => s + knownMs(d) + d.unknownMs, 0);
    return all > 0 ? known / all : null;
  };
  const byDevice: DeviceBreakdown[] = devices.map((d) => {
    const p = part(d);
    const mttrMin = d.repairsMin.length ? d.repairsMin.reduce((a, b) => a + b, 0) / d.repairsMin.length : null;
    return {
      id: d.id,
      name: d.name,
      kind: d.kind,
      role: d.role,
      hamlet: d.hamlet,
      value: ratio(p.numerator, p.denominator, o.percent),
      numerator: p.numerator,
      denominator: p.denominator,
      coverage: coverageOf([d]),
      upMs: d.upMs,
      degradedMs: d.degradedMs,
      downMs: d.downMs,
      unknownMs: d.unknownMs,
      maintenanceMs: d.maintenanceMs,
      incidents: d.incidents,
      mttrMin,
    };
  });
  const hamletIds = o.hamletPart ? SAMPLE_HAMLETS.map((h) => h.id) : [...new Set(devices.map((d) => d.hamlet))];
  const byHamlet: Breakdown[] = hamletIds.map((h) => {
    const ds = devices.filter((d) => d.hamlet === h);
    const p = o.hamletPart ? o.hamletPart(h, ds) : ds.map(part).reduce((a, b) => ({ numerator: a.numerator + b.numerator, denominator: a.denominator + b.denominator }), { numerator: 0, denominator: 0 });
    return { id: h, name: o.hamletName(h), value: ratio(p.numerator, p.denominator, o.percent), numerator: p.numerator, denominator: p.denominator, coverage: coverageOf(ds) };
  });
  const numerator = byHamlet.reduce((s, b) => s + b.numerator, 0);
  const denominator = byHamlet.reduce((s, b) => s + b.denominator, 0);
  const value = ratio(numerator, denominator, o.percent);
  const coverage = coverageOf(devices);
  const result: IndicatorResult = {
    id: def.id,
    name: def.name,
    unit: def.unit,
    method: def.method,
    value,
    numerator,
    denominator,
    target: def.target,
    status: statusOf(value, def.target, coverage),
    coverage,
    responsibleUnit: def.responsibleUnit,
    byHamlet,
    byDevice,
  };
  if (def.cooperatingUnit) result.cooperatingUnit = def.cooperatingUnit;
  if (o.detail) result.detail = o.detail;
  return result;
}

const VHXH = 'Phòng Văn hóa - Xã hội';
const PCT = { vi: '%', en: '%' };

/** The sample half-year report (H1 2026, generated 08:15 on 01/07/2026 +07:00). */
export function sampleReport(): IndicatorReport {
  const rand = prng(57);
  const devices = devicesOf(rand);
  const hamletName = (id: string) => SAMPLE_HAMLETS.find((h) => h.id === id)?.name ?? id;
  const of = (kind: string, roles?: string[]) => devices.filter((d) => d.kind === kind && (!roles || roles.includes(d.role)));
  const tw = { percent: true, timeBased: true, hamletName };
  const atEnd: Part = (d) => ({ numerator: d.okAtEnd ? 1 : 0, denominator: 1 });
  const deadZones = ['ap-08', 'ap-16'];
  const hamletLoudspeakers = of('loudspeaker', ['hamlet']);

  const indicators: IndicatorResult[] = [
    indicator(
      {
        id: 'loudspeaker_availability',
        name: { vi: 'Tỷ lệ thời gian hoạt động của hệ thống loa truyền thanh thông minh', en: 'Smart loudspeaker availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 95 },
        responsibleUnit: VHXH,
        cooperatingUnit: 'Trung tâm Dịch vụ tổng hợp',
      },
      of('loudspeaker'),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'hamlets_loudspeaker_coverage',
        name: { vi: 'Tỷ lệ ấp có loa truyền thanh thông minh hoạt động', en: 'Hamlets covered by a working loudspeaker' },
        unit: { vi: '% số ấp', en: '% of hamlets' },
        method: 'count-in-period',
        target: { op: '>=', value: 100 },
        responsibleUnit: VHXH,
      },
      hamletLoudspeakers,
      (d) => ({ numerator: d.upMs > 0 ? 1 : 0, denominator: 1 }),
      { percent: true, timeBased: false, hamletName, hamletPart: (_h, ds) => ({ numerator: ds.some((d) => d.upMs > 0) ? 1 : 0, denominator: 1 }) },
    ),
    indicator(
      {
        id: 'onestop_camera_ioc',
        name: { vi: 'Tỷ lệ camera bộ phận một cửa kết nối, chia sẻ dữ liệu với IOC tỉnh', en: 'One-stop-shop cameras connected to the province IOC' },
        unit: PCT,
        method: 'count-at-end',
        target: { op: '>=', value: 100 },
        responsibleUnit: 'Trung tâm Phục vụ hành chính công',
        cooperatingUnit: 'VNPT',
      },
      of('camera', ['onestop']),
      atEnd,
      { percent: true, timeBased: false, hamletName },
    ),
    indicator(
      {
        id: 'onestop_camera_availability',
        name: { vi: 'Tỷ lệ thời gian hoạt động của camera bộ phận một cửa', en: 'One-stop-shop camera availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 99 },
        responsibleUnit: 'Trung tâm Phục vụ hành chính công',
      },
      of('camera', ['onestop']),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'security_camera_availability',
        name: { vi: 'Tỷ lệ thời gian hoạt động của camera an ninh trật tự, giao thông', en: 'Security and traffic camera availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 95 },
        responsibleUnit: 'Công an xã',
      },
      of('camera', ['security', 'traffic']),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'office_computers_lan',
        name: { vi: 'Tỷ lệ máy tính kết nối mạng LAN', en: 'Office computers on the LAN' },
        unit: PCT,
        method: 'count-at-end',
        target: { op: '>=', value: 100 },
        responsibleUnit: 'Văn phòng HĐND và UBND xã',
      },
      of('computer'),
      atEnd,
      { percent: true, timeBased: false, hamletName },
    ),
    indicator(
      {
        id: 'wan_availability',
        name: { vi: 'Tỷ lệ thời gian đường truyền Internet thông suốt', en: 'Internet line availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 99 },
        responsibleUnit: VHXH,
        cooperatingUnit: 'Các doanh nghiệp viễn thông',
      },
      of('network', ['wan']),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'tslcd_availability',
        name: { vi: 'Tỷ lệ thời gian Mạng truyền số liệu chuyên dùng (TSLCD) thông suốt', en: 'Government data line (TSLCD) availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 99.5 },
        responsibleUnit: VHXH,
        cooperatingUnit: 'Bưu điện tỉnh',
      },
      of('network', ['tslcd']),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'public_wifi_in_service',
        name: { vi: 'Tỷ lệ điểm Wi-Fi công cộng miễn phí đang hoạt động', en: 'Public Wi-Fi points in service' },
        unit: PCT,
        method: 'count-at-end',
        target: { op: '>=', value: 90 },
        responsibleUnit: VHXH,
      },
      of('wifi_ap', ['public']),
      atEnd,
      { percent: true, timeBased: false, hamletName },
    ),
    indicator(
      {
        id: 'vconf_availability',
        name: { vi: 'Tỷ lệ thời gian hệ thống hội nghị truyền hình trực tuyến sẵn sàng', en: 'Video-conference availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 99 },
        responsibleUnit: 'Văn phòng HĐND và UBND xã',
      },
      of('vconf'),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'soil_probe_completeness',
        name: { vi: 'Tỷ lệ dữ liệu cảm biến độ ẩm đất nhận được (mô hình Nông nghiệp số)', en: 'Soil-probe data completeness' },
        unit: PCT,
        method: 'completeness',
        target: { op: '>=', value: 90 },
        responsibleUnit: 'Phòng Kinh tế',
      },
      of('soil_probe'),
      // One reading every 10 minutes expected while the probe was installed.
      (d) => ({ numerator: Math.round((d.upMs + d.degradedMs) / 600_000), denominator: Math.round(knownMs(d) / 600_000) }),
      tw,
    ),
    indicator(
      {
        id: 'mains_power_availability',
        name: { vi: 'Tỷ lệ thời gian có điện lưới cho hạ tầng số', en: 'Mains power availability' },
        unit: PCT,
        method: 'time-weighted',
        target: { op: '>=', value: 98 },
        responsibleUnit: VHXH,
        cooperatingUnit: 'Điện lực khu vực',
      },
      of('power'),
      timeWeighted,
      tw,
    ),
    indicator(
      {
        id: 'cellular_coverage_hamlets',
        name: { vi: 'Tỷ lệ ấp có sóng di động 4G/5G đạt yêu cầu', en: 'Hamlets with usable 4G/5G signal' },
        unit: { vi: '% số ấp', en: '% of hamlets' },
        method: 'count-in-period',
        target: { op: '>=', value: 85 },
        responsibleUnit: VHXH,
        cooperatingUnit: 'Các doanh nghiệp viễn thông',
      },
      hamletLoudspeakers,
      (d) => ({ numerator: deadZones.includes(d.hamlet) ? 0 : 1, denominator: 1 }),
      { percent: true, timeBased: false, hamletName, hamletPart: (h) => ({ numerator: deadZones.includes(h) ? 0 : 1, denominator: 1 }), detail: { deadZones } },
    ),
    indicator(
      {
        id: 'incidents_per_device',
        name: { vi: 'Số sự cố bình quân trên một thiết bị', en: 'Incidents per device' },
        unit: { vi: 'sự cố/thiết bị', en: 'incidents/device' },
        method: 'events',
        target: { op: '<=', value: 24 },
        responsibleUnit: VHXH,
      },
      devices,
      (d) => ({ numerator: d.incidents, denominator: 1 }),
      { percent: false, timeBased: false, hamletName },
    ),
    indicator(
      {
        id: 'mttr',
        name: { vi: 'Thời gian khắc phục sự cố trung bình', en: 'Mean time to repair' },
        unit: { vi: 'phút', en: 'minutes' },
        method: 'mean-duration',
        target: { op: '<=', value: 480 },
        responsibleUnit: VHXH,
      },
      devices.filter((d) => d.repairsMin.length > 0),
      (d) => ({ numerator: d.repairsMin.reduce((a, b) => a + b, 0), denominator: d.repairsMin.length }),
      { percent: false, timeBased: false, hamletName },
    ),
  ];

  return {
    commune: { code: '26999', name: 'Xã Tà Lài', province: { code: '75', name: 'Đồng Nai' } },
    gatewayId: 'gw-talai-01',
    period: { id: '2026-H1', kind: 'half', from: FROM, to: TO, timezone: 'Asia/Ho_Chi_Minh' },
    generatedAt: '2026-07-01T08:15:00+07:00',
    gatewayCoverage: 1 - GATEWAY_OFF_MS / PERIOD_MS,
    partial: false,
    indicators,
  };
}
