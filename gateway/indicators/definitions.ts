/**
 * The infrastructure indicators, each defined once: id, Vietnamese and English
 * name, unit, method, default target, responsible and cooperating unit (as the
 * commune plans write them), the device kinds/roles it is computed from, and what
 * counts. The engine (engine.ts) computes each id; config (`indicators.targets`,
 * `responsibleUnits`, `cooperatingUnits`) may override target and units.
 *
 * Sources (../shared/design/plans, field-notes.md):
 * - Tà Lài plan: "duy trì phát triển 100% hệ thống camera theo dõi, giám sát bộ phận
 *   một cửa cấp xã kết nối ... về Trung tâm giám sát, điều hành thông minh (IOC)
 *   tỉnh"; "Mạng truyền số liệu chuyên dùng, bảo đảm ổn định, thông suốt"; appendix 1
 *   row A.1 "Tỷ lệ phủ sóng 5G ... Phòng VH-XH ... Các doanh nghiệp viễn thông".
 * - Tiên Minh plan, appendix row 1.1: "100 % máy tính kết nối mạng LAN" (Văn phòng
 *   HĐND và UBND); row 1.2: "khắc phục ... vùng lõm sóng" (Phòng Văn hóa - Xã hội,
 *   các đơn vị cung ứng dịch vụ viễn thông); row 1.4: "Bảo đảm nguồn cung cấp điện
 *   ổn định" (Đội Quản lý điện khu vực); row 3.2: "nền tảng họp trực tuyến ... Đảm bảo
 *   kết nối thường xuyên, liên tục" (Văn phòng HĐND và UBND; Sở Khoa học và Công
 *   nghệ, VNPT).
 * - Lộc Tấn plan: "wifi công cộng miễn phí tại các điểm sinh hoạt cộng đồng"; "loa
 *   truyền thanh ứng dụng công nghệ thông minh đến các ấp, khu dân cư"; "Nông nghiệp
 *   số ... cảm biến độ ẩm đất" (Phòng Kinh tế proposes the digital-farming models,
 *   with the Hội Nông dân); "Công an xã ... giám sát trật tự qua hệ thống camera".
 * - An Viễn plan VI.2: Phòng Văn hóa - Xã hội "Quản lý, vận hành hệ thống hạ tầng
 *   thông tin mạng"; VI.1: Văn phòng HĐND & UBND "phối hợp ... bảo trì, sửa chữa hệ
 *   thống mạng của xã".
 *
 * Targets the plans give as numbers are used as they are (100 %). Where a plan says
 * only "ổn định, thông suốt" (lines) or "thường xuyên, liên tục" (video conference),
 * we set 99 %: at most about 7 h 18 min of outage a month, which a rural line with
 * a same-day repair can meet, while 99.9 % (43 min a month) would fail on a single
 * cable cut. The others (95 % for equipment spread over the hamlets, 90 % for data
 * completeness, 24 h mean time to repair) are our operational choices, stated as
 * such in docs/indicators.md; a commune changes them in config.
 */
import { KINDS } from '../../devices/registry.js';
import type { IndicatorDefinition, Label } from './types.js';

/** Kind ids the engine handles by name; office_pc and irrigation may be absent from the registry. */
export const KIND = {
  loudspeaker: 'loudspeaker',
  camera: 'camera',
  network: 'network',
  wifiAp: 'wifi_ap',
  soilProbe: 'soil_probe',
  vconf: 'vconf',
  power: 'power',
  officePc: 'office_pc',
} as const;

/** Kinds whose DOWN is not a failure: an office PC is DOWN every night when switched off. */
export const NOT_INCIDENT_KINDS: readonly string[] = [KIND.officePc];

export const VHXH = 'Phòng Văn hóa - Xã hội';
export const VP_UBND = 'Văn phòng HĐND và UBND';
const TELCOS = 'Các doanh nghiệp viễn thông';

const PCT: Label = { vi: '%', en: '%' };
const PCT_HAMLETS: Label = { vi: '% số ấp', en: '% of hamlets' };

export const INDICATOR_IDS = [
  'loudspeaker_availability',
  'hamlets_loudspeaker_coverage',
  'onestop_camera_ioc',
  'onestop_camera_availability',
  'security_camera_availability',
  'office_computers_lan',
  'wan_availability',
  'tslcd_availability',
  'public_wifi_in_service',
  'vconf_availability',
  'soil_probe_completeness',
  'mains_power_availability',
  'cellular_coverage_hamlets',
  'incidents_per_device',
  'mttr',
] as const;
export type IndicatorId = (typeof INDICATOR_IDS)[number];

/** Every registered kind except those whose DOWN is expected (incidents, MTTR). */
function incidentKinds(): { kind: string }[] {
  return KINDS.map((k) => k.id as string)
    .filter((k) => !NOT_INCIDENT_KINDS.includes(k))
    .map((kind) => ({ kind }));
}

export const DEFINITIONS: readonly (IndicatorDefinition & { id: IndicatorId })[] = [
  {
    id: 'loudspeaker_availability',
    name: { vi: 'Tỷ lệ thời gian hoạt động của hệ thống loa truyền thanh thông minh', en: 'Smart loudspeaker availability' },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 95 },
    responsibleUnit: VHXH,
    cooperatingUnit: TELCOS,
    kinds: [{ kind: KIND.loudspeaker }],
    description: {
      vi: 'Tổng thời gian các cụm loa hoạt động (tốt hoặc suy giảm) chia cho tổng thời gian biết được trạng thái; không tính thời gian không có dữ liệu và thời gian bảo trì theo kế hoạch.',
      en: 'Loudspeaker-time up or degraded over loudspeaker-time with a known state; time with no data and planned maintenance are left out.',
    },
  },
  {
    id: 'hamlets_loudspeaker_coverage',
    name: { vi: 'Tỷ lệ ấp, khu dân cư có loa truyền thanh thông minh hoạt động', en: 'Hamlets covered by a working loudspeaker' },
    unit: PCT_HAMLETS,
    method: 'count-in-period',
    defaultTarget: { op: '>=', value: 100 },
    responsibleUnit: VHXH,
    cooperatingUnit: TELCOS,
    kinds: [{ kind: KIND.loudspeaker }],
    description: {
      vi: 'Một ấp được tính khi trong kỳ có ít nhất một cụm loa của ấp hoạt động trong phần lớn thời gian biết được trạng thái (mặc định ≥ 90 %, indicators.serviceThresholdPct). Ấp chưa có loa là ấp chưa được phủ.',
      en: 'A hamlet counts when at least one of its loudspeakers was working for most of the known time (default ≥ 90 %, indicators.serviceThresholdPct). A hamlet with no loudspeaker is not covered.',
    },
  },
  {
    id: 'onestop_camera_ioc',
    name: {
      vi: 'Tỷ lệ camera bộ phận một cửa kết nối, chia sẻ dữ liệu với IOC tỉnh',
      en: 'One-stop-shop cameras connected to the province IOC',
    },
    unit: PCT,
    method: 'count-at-end',
    defaultTarget: { op: '>=', value: 100 },
    responsibleUnit: VHXH,
    cooperatingUnit: 'Trung tâm Phục vụ hành chính công',
    kinds: [{ kind: KIND.camera, roles: ['onestop'] }],
    description: {
      vi: 'Camera một cửa được tính khi cuối kỳ đang hoạt động và lần báo gần nhất trong kỳ cho biết luồng hình đã về IOC tỉnh (ioc_link).',
      en: 'A one-stop-shop camera counts when, at the end of the period, it is working and its last report in the period says the stream reaches the province IOC (ioc_link).',
    },
  },
  {
    id: 'onestop_camera_availability',
    name: { vi: 'Tỷ lệ thời gian hoạt động của camera bộ phận một cửa', en: 'One-stop-shop camera availability' },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 99 },
    responsibleUnit: VHXH,
    cooperatingUnit: 'Trung tâm Phục vụ hành chính công',
    kinds: [{ kind: KIND.camera, roles: ['onestop'] }],
    description: {
      vi: 'Tổng thời gian camera một cửa hoạt động chia cho tổng thời gian biết được trạng thái.',
      en: 'One-stop-shop camera-time working over camera-time with a known state.',
    },
  },
  {
    id: 'security_camera_availability',
    name: { vi: 'Tỷ lệ thời gian hoạt động của camera giám sát an ninh, giao thông', en: 'Security and traffic camera availability' },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 95 },
    responsibleUnit: 'Công an xã',
    cooperatingUnit: VHXH,
    kinds: [{ kind: KIND.camera, roles: ['security', 'traffic'] }],
    description: {
      vi: 'Tổng thời gian camera an ninh, giao thông (kể cả camera tầm cao) hoạt động chia cho tổng thời gian biết được trạng thái.',
      en: 'Security and traffic camera-time working (high-mount cameras included) over camera-time with a known state.',
    },
  },
  {
    id: 'office_computers_lan',
    name: { vi: 'Tỷ lệ máy tính kết nối mạng LAN', en: 'Office computers connected to the LAN' },
    unit: PCT,
    method: 'count-at-end',
    defaultTarget: { op: '>=', value: 100 },
    responsibleUnit: VP_UBND,
    cooperatingUnit: 'Các phòng chuyên môn, cơ quan, đơn vị có liên quan',
    kinds: [{ kind: KIND.officePc }],
    description: {
      vi: 'Máy tính được tính khi có mặt trên mạng LAN trong giờ hành chính của ngày làm việc cuối cùng của kỳ (indicators.officeHours). Máy tắt ban đêm không bị tính là mất kết nối.',
      en: 'A computer counts when seen on the LAN during office hours of the last working day of the period (indicators.officeHours). PCs switched off at night do not count against it.',
    },
  },
  {
    id: 'wan_availability',
    name: { vi: 'Tỷ lệ thời gian đường truyền Internet hoạt động ổn định, thông suốt', en: 'Internet line (WAN) availability' },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 99 },
    responsibleUnit: VHXH,
    cooperatingUnit: TELCOS,
    kinds: [{ kind: KIND.network, roles: ['wan'] }],
    description: {
      vi: 'Tổng thời gian các đường truyền Internet thông (kể cả khi chất lượng suy giảm) chia cho tổng thời gian biết được trạng thái.',
      en: 'Internet-line time up (degraded included) over line-time with a known state.',
    },
  },
  {
    id: 'tslcd_availability',
    name: {
      vi: 'Tỷ lệ thời gian Mạng truyền số liệu chuyên dùng hoạt động ổn định, thông suốt',
      en: 'Government dedicated data line (TSLCD) availability',
    },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 99 },
    responsibleUnit: VHXH,
    cooperatingUnit: 'VNPT',
    kinds: [{ kind: KIND.network, roles: ['tslcd'] }],
    description: {
      vi: 'Tổng thời gian đường truyền số liệu chuyên dùng thông chia cho tổng thời gian biết được trạng thái.',
      en: 'TSLCD line-time up over line-time with a known state.',
    },
  },
  {
    id: 'public_wifi_in_service',
    name: { vi: 'Tỷ lệ điểm wifi công cộng miễn phí hoạt động', en: 'Free public Wi-Fi points in service' },
    unit: PCT,
    method: 'count-in-period',
    defaultTarget: { op: '>=', value: 100 },
    responsibleUnit: VHXH,
    cooperatingUnit: TELCOS,
    kinds: [{ kind: KIND.wifiAp, roles: ['public'] }],
    description: {
      vi: 'Điểm wifi công cộng được tính là hoạt động khi phát sóng trong phần lớn thời gian biết được trạng thái của kỳ (mặc định ≥ 90 %).',
      en: 'A public Wi-Fi point counts as in service when up for most of its known time in the period (default ≥ 90 %).',
    },
  },
  {
    id: 'vconf_availability',
    name: {
      vi: 'Tỷ lệ thời gian hệ thống hội nghị truyền hình trực tuyến sẵn sàng kết nối',
      en: 'Video-conference availability',
    },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 99 },
    responsibleUnit: VP_UBND,
    cooperatingUnit: 'Sở Khoa học và Công nghệ, VNPT',
    kinds: [{ kind: KIND.vconf }],
    description: {
      vi: 'Tổng thời gian thiết bị hội nghị truyền hình đăng ký được với MCU (sẵn sàng vào họp) chia cho tổng thời gian biết được trạng thái.',
      en: 'Endpoint-time registered with the MCU (ready to join a meeting) over endpoint-time with a known state.',
    },
  },
  {
    id: 'soil_probe_completeness',
    name: { vi: 'Tỷ lệ dữ liệu cảm biến độ ẩm đất nhận được (mô hình Nông nghiệp số)', en: 'Soil-probe data completeness (digital farming pilots)' },
    unit: PCT,
    method: 'completeness',
    defaultTarget: { op: '>=', value: 90 },
    responsibleUnit: 'Phòng Kinh tế',
    cooperatingUnit: 'Hội Nông dân xã',
    kinds: [{ kind: KIND.soilProbe }],
    description: {
      vi: 'Số bản tin nhận được chia cho số bản tin cần có (thời gian biết được trạng thái chia cho chu kỳ báo của cảm biến); mỗi cảm biến tính tối đa 100 %.',
      en: 'Readings received over readings expected (known time divided by the probe reporting interval); each probe counts at most 100 %.',
    },
  },
  {
    id: 'mains_power_availability',
    name: { vi: 'Tỷ lệ thời gian có điện lưới tại các điểm hạ tầng số', en: 'Mains power availability at digital-infrastructure sites' },
    unit: PCT,
    method: 'time-weighted',
    defaultTarget: { op: '>=', value: 99 },
    responsibleUnit: 'Đội Quản lý điện khu vực',
    cooperatingUnit: VHXH,
    kinds: [{ kind: KIND.power }],
    description: {
      vi: 'Tổng thời gian có điện lưới (UPS không chạy ắc quy) chia cho tổng thời gian biết được tình trạng điện lưới tại các UPS, thiết bị đo điện.',
      en: 'Site-time on mains (the UPS not on battery) over site-time with a known mains state, from UPSs and mains monitors.',
    },
  },
  {
    id: 'cellular_coverage_hamlets',
    name: { vi: 'Tỷ lệ ấp có sóng di động sử dụng được (không có vùng lõm sóng)', en: 'Hamlets with usable cellular signal (no dead zone)' },
    unit: PCT_HAMLETS,
    method: 'count-in-period',
    defaultTarget: { op: '>=', value: 100 },
    responsibleUnit: VHXH,
    cooperatingUnit: TELCOS,
    kinds: [{ kind: KIND.loudspeaker }],
    description: {
      vi: 'Đo bằng modem 4G của các cụm loa: ấp đạt khi RSRP trung bình trong kỳ tại mọi điểm đo ≥ −110 dBm (indicators.rsrpUsableDbm); các ấp còn lại là vùng lõm sóng. Ấp không có điểm đo không tính.',
      en: "Measured by the loudspeakers' 4G modems: a hamlet passes when the mean RSRP over the period at every measuring point is ≥ −110 dBm (indicators.rsrpUsableDbm); the others are dead zones. Hamlets with no measuring point are left out.",
    },
  },
  {
    id: 'incidents_per_device',
    name: { vi: 'Số sự cố bình quân trên một thiết bị', en: 'Incidents per device' },
    unit: { vi: 'sự cố/thiết bị', en: 'incidents/device' },
    method: 'events',
    defaultTarget: null,
    responsibleUnit: VHXH,
    cooperatingUnit: VP_UBND,
    kinds: incidentKinds(),
    description: {
      vi: 'Số lần thiết bị chuyển sang mất kết nối/hỏng bắt đầu trong kỳ, chia cho số thiết bị; chi tiết theo từng loại thiết bị. Không tính sự cố trong thời gian bảo trì theo kế hoạch.',
      en: 'Transitions into DOWN starting in the period, over the number of devices; detail per device kind. Failures inside planned maintenance are not incidents.',
    },
  },
  {
    id: 'mttr',
    name: { vi: 'Thời gian khắc phục sự cố trung bình', en: 'Mean time to repair' },
    unit: { vi: 'phút', en: 'minutes' },
    method: 'mean-duration',
    defaultTarget: { op: '<=', value: 1440 },
    responsibleUnit: VHXH,
    cooperatingUnit: VP_UBND,
    kinds: incidentKinds(),
    description: {
      vi: 'Thời gian trung bình từ khi thiết bị hỏng đến khi hoạt động lại, của các sự cố được khắc phục trong kỳ; chỉ tính thời gian quan sát được trạng thái hỏng; chi tiết theo từng loại thiết bị.',
      en: 'Mean time from DOWN to working again, over incidents repaired in the period; only observed DOWN time counts; detail per device kind.',
    },
  },
];

const byId = new Map<string, IndicatorDefinition & { id: IndicatorId }>(DEFINITIONS.map((d) => [d.id, d]));

export function definitionById(id: string): (IndicatorDefinition & { id: IndicatorId }) | undefined {
  return byId.get(id);
}

/** `%`-valued indicators (targets must be 0..100). */
export function isPercent(def: IndicatorDefinition): boolean {
  return def.unit.vi.startsWith('%');
}
