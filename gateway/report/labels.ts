/**
 * Words of the report that are not in the indicator contract or the kinds: column
 * headings (the plans' appendix tables), short sheet names, role names.
 *
 * Role names belong with the kinds (style.md: labels live with the kinds); the
 * kinds carry no role labels yet, so they are here until `defineKind` grows them.
 */
import type { Label } from '../indicators/types.js';
import type { ReportLang } from './format.js';

/** The indicator table: the plans' columns (Tà Lài plan, Phụ lục 1) plus the result, its evaluation and the data coverage. */
export const INDICATOR_COLUMNS = {
  stt: { vi: 'STT', en: 'No.' },
  name: { vi: 'Nội dung chỉ tiêu', en: 'Indicator' },
  unit: { vi: 'Đơn vị tính', en: 'Unit' },
  target: { vi: 'Chỉ tiêu', en: 'Target' },
  value: { vi: 'Kết quả', en: 'Result' },
  status: { vi: 'Đánh giá', en: 'Evaluation' },
  responsible: { vi: 'Đơn vị theo dõi', en: 'Responsible unit' },
  coverage: { vi: 'Độ phủ dữ liệu', en: 'Data coverage' },
  note: { vi: 'Ghi chú', en: 'Notes' },
} satisfies Record<string, Label>;

export type IndicatorColumnKey = keyof typeof INDICATOR_COLUMNS;
export const INDICATOR_COLUMN_KEYS = Object.keys(INDICATOR_COLUMNS) as IndicatorColumnKey[];

/** Per-device tables (one per kind). Hours are wall-clock hours within the period. */
export const DEVICE_COLUMNS = {
  stt: { vi: 'STT', en: 'No.' },
  name: { vi: 'Thiết bị', en: 'Device' },
  hamlet: { vi: 'Ấp', en: 'Hamlet' },
  role: { vi: 'Vai trò', en: 'Role' },
  availability: { vi: 'Tỷ lệ hoạt động', en: 'Availability' },
  upH: { vi: 'Hoạt động (giờ)', en: 'Up (hours)' },
  degradedH: { vi: 'Suy giảm (giờ)', en: 'Degraded (hours)' },
  downH: { vi: 'Gián đoạn (giờ)', en: 'Down (hours)' },
  unknownH: { vi: 'Không rõ (giờ)', en: 'Unknown (hours)' },
  maintenanceH: { vi: 'Bảo trì (giờ)', en: 'Maintenance (hours)' },
  incidents: { vi: 'Số sự cố', en: 'Incidents' },
  mttrMin: { vi: 'Thời gian khắc phục TB (phút)', en: 'MTTR (minutes)' },
  coverage: { vi: 'Độ phủ dữ liệu', en: 'Data coverage' },
} satisfies Record<string, Label>;

export type DeviceColumnKey = keyof typeof DEVICE_COLUMNS;

export const HAMLET_COLUMNS = {
  stt: { vi: 'STT', en: 'No.' },
  name: { vi: 'Ấp', en: 'Hamlet' },
  devices: { vi: 'Số thiết bị', en: 'Devices' },
  availability: { vi: 'Tỷ lệ hoạt động chung', en: 'Overall availability' },
  downH: { vi: 'Gián đoạn (giờ)', en: 'Down (hours)' },
  unknownH: { vi: 'Không rõ (giờ)', en: 'Unknown (hours)' },
  incidents: { vi: 'Số sự cố', en: 'Incidents' },
  note: { vi: 'Ghi chú', en: 'Notes' },
} satisfies Record<string, Label>;

export type HamletColumnKey = keyof typeof HAMLET_COLUMNS;

/** Excel limits a sheet name to 31 characters and forbids []:*?/\ in it. */
export const KIND_SHEET_NAME: Record<string, Label> = {
  loudspeaker: { vi: 'Loa truyền thanh', en: 'Loudspeakers' },
  camera: { vi: 'Camera', en: 'Cameras' },
  network: { vi: 'Mạng - đường truyền', en: 'Network and lines' },
  wifi_ap: { vi: 'Wi-Fi', en: 'Wi-Fi' },
  soil_probe: { vi: 'Cảm biến đất', en: 'Soil probes' },
  vconf: { vi: 'Hội nghị truyền hình', en: 'Video conference' },
  power: { vi: 'Nguồn điện - UPS', en: 'Power and UPS' },
  computer: { vi: 'Máy tính', en: 'Computers' },
};

/** Kinds the device registry may not have (yet): their full label. */
export const EXTRA_KIND_LABEL: Record<string, Label> = {
  computer: { vi: 'Máy tính cơ quan', en: 'Office computers' },
};

const ROLE_LABEL: Record<string, Label> = {
  'loudspeaker:hamlet': { vi: 'Loa ấp', en: 'Hamlet loudspeaker' },
  'loudspeaker:center': { vi: 'Đài truyền thanh xã', en: 'Commune radio station' },
  'camera:onestop': { vi: 'Bộ phận một cửa', en: 'One-stop shop' },
  'camera:security': { vi: 'An ninh trật tự', en: 'Security' },
  'camera:traffic': { vi: 'Giao thông', en: 'Traffic' },
  'camera:farm': { vi: 'Nông nghiệp số', en: 'Digital farming' },
  'network:wan': { vi: 'Đường truyền Internet', en: 'Internet line' },
  'network:tslcd': { vi: 'Mạng TSLCD', en: 'Government data line (TSLCD)' },
  'network:firewall': { vi: 'Tường lửa', en: 'Firewall' },
  'network:lan_switch': { vi: 'Switch mạng LAN', en: 'LAN switch' },
  'wifi_ap:public': { vi: 'Wi-Fi công cộng', en: 'Public Wi-Fi' },
  'wifi_ap:government': { vi: 'Wi-Fi công vụ', en: 'Government Wi-Fi' },
  'soil_probe:farm': { vi: 'Mô hình nông nghiệp số', en: 'Digital-farming pilot' },
  'vconf:office': { vi: 'Phòng họp trực tuyến', en: 'Meeting room' },
  'power:office': { vi: 'Trụ sở UBND', en: 'Commune office' },
  'power:rack': { vi: 'Tủ thiết bị mạng', en: 'Network rack' },
  'power:hamlet': { vi: 'Tại ấp', en: 'In a hamlet' },
  'computer:office': { vi: 'Máy tính cơ quan', en: 'Office computer' },
};

export function roleLabel(kind: string, role: string | undefined, lang: ReportLang): string {
  if (!role) return '';
  return ROLE_LABEL[`${kind}:${role}`]?.[lang] ?? role;
}

/** Everything else the documents say, in both languages. */
export const TEXT = {
  committee: { vi: 'ỦY BAN NHÂN DÂN', en: "PEOPLE'S COMMITTEE" },
  nation: { vi: 'CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM', en: 'SOCIALIST REPUBLIC OF VIETNAM' },
  motto: { vi: 'Độc lập - Tự do - Hạnh phúc', en: 'Independence - Freedom - Happiness' },
  docNumber: { vi: 'Số:        /BC-UBND', en: 'No.:        /BC-UBND' },
  report: { vi: 'BÁO CÁO', en: 'REPORT' },
  subject: { vi: 'KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU HẠ TẦNG SỐ', en: 'ON THE DIGITAL INFRASTRUCTURE INDICATORS,' },
  sheetIndicators: { vi: 'Chỉ tiêu', en: 'Indicators' },
  sheetCoverage: { vi: 'Độ phủ dữ liệu', en: 'Data coverage' },
  sheetHamlets: { vi: 'Theo ấp', en: 'By hamlet' },
  part1: { vi: 'I. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU', en: 'I. INDICATOR RESULTS' },
  part2: { vi: 'II. TÌNH TRẠNG HOẠT ĐỘNG CỦA THIẾT BỊ', en: 'II. DEVICE OPERATION' },
  part3: { vi: 'III. TỔNG HỢP THEO ẤP', en: 'III. BY HAMLET' },
  part4: { vi: 'IV. ĐỘ PHỦ DỮ LIỆU', en: 'IV. DATA COVERAGE' },
  generatedAt: { vi: 'Thời điểm lập báo cáo', en: 'Generated at' },
  period: { vi: 'Kỳ báo cáo', en: 'Reporting period' },
  communeCode: { vi: 'Mã đơn vị hành chính', en: 'Administrative code' },
  gateway: { vi: 'Thiết bị giám sát (gateway)', en: 'Monitoring gateway' },
  gatewayCoverage: { vi: 'Thời gian gateway hoạt động', en: 'Gateway running' },
  devicesCounted: { vi: 'Số thiết bị', en: 'Devices' },
  unknownHours: { vi: 'Thời gian không rõ (giờ)', en: 'Unknown time (hours)' },
  lowCoverageDevices: { vi: 'Thiết bị có độ phủ dữ liệu dưới 90%', en: 'Devices with data coverage below 90%' },
  noneLowCoverage: { vi: 'Không có thiết bị nào có độ phủ dữ liệu dưới 90%.', en: 'No device has data coverage below 90%.' },
  page: { vi: 'Trang', en: 'Page' },
  recipients: { vi: 'Nơi nhận:', en: 'Recipients:' },
  recipientLines: {
    vi: ['- UBND tỉnh (b/c);', '- Ban Chỉ đạo chuyển đổi số xã;', '- Lưu: VT, VHXH.'],
    en: ['- Province People’s Committee;', '- Commune digital-transformation board;', '- Archive.'],
  },
  signer: { vi: 'TM. ỦY BAN NHÂN DÂN\nCHỦ TỊCH', en: "ON BEHALF OF THE PEOPLE'S COMMITTEE\nCHAIRPERSON" },
  signHint: { vi: '(Ký, ghi rõ họ tên, đóng dấu)', en: '(Signature, full name, seal)' },
  machineNote: {
    vi: 'Số liệu được tổng hợp tự động từ hệ thống giám sát hạ tầng số của xã (commune-edge).',
    en: 'Figures compiled automatically by the commune’s digital-infrastructure monitoring system (commune-edge).',
  },
} satisfies Record<string, Label | { vi: string[]; en: string[] }>;
