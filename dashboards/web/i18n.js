// Every string the page shows, in Vietnamese (default) and English, in one table;
// number and date formats through Intl (vi-VN: decimal comma, dd/mm/yyyy HH:mm).
// Device-kind and field labels come from the API (GET /api/kinds: label.vi/en live
// with the kinds), indicator names from GET /api/indicators.

export const STRINGS = {
  vi: {
    appTitle: 'Giám sát hạ tầng số',
    skip: 'Bỏ qua, đến nội dung chính',
    navOverview: 'Tổng quan',
    navIndicators: 'Chỉ tiêu',
    navAdmin: 'Quản trị',
    langSwitch: 'English',
    langSwitchLabel: 'Chuyển sang tiếng Anh',
    logout: 'Đăng xuất',
    role_viewer: 'Người xem',
    role_officer: 'Cán bộ phụ trách',
    role_admin: 'Quản trị viên',
    demo: 'DEMO',
    live: 'Trực tiếp',
    liveConnecting: 'Đang kết nối…',
    liveLost: 'Mất kết nối trực tiếp, đang thử lại',
    loading: 'Đang tải…',
    retry: 'Thử lại',
    loadFailed: 'Không tải được dữ liệu: {msg}',
    // login
    loginTitle: 'Đăng nhập',
    loginIntro: 'Nhập mã truy cập (API token) do quản trị viên cấp. Bản DEMO in mã người xem khi khởi động.',
    tokenLabel: 'Mã truy cập',
    loginButton: 'Đăng nhập',
    loginInvalid: 'Mã truy cập không hợp lệ.',
    loginFailed: 'Không kết nối được gateway: {msg}',
    // states
    state_UP: 'Hoạt động',
    state_DEGRADED: 'Suy giảm',
    state_DOWN: 'Mất kết nối',
    state_UNKNOWN: 'Chưa rõ',
    total: 'Tổng',
    devicesCount: '{n} thiết bị',
    // overview
    overviewTitle: 'Tổng quan',
    downNow: 'Đang mất kết nối',
    downNone: 'Không có thiết bị nào mất kết nối.',
    since: 'từ {time}',
    byKind: 'Theo loại thiết bị',
    kind: 'Loại thiết bị',
    hamlets: 'Các ấp',
    hamlet: 'Ấp',
    hamletDown: '{n} mất kết nối',
    hamletNoDevices: 'Chưa có thiết bị',
    updatedAt: 'Cập nhật {time}',
    // device
    backToOverview: 'Tổng quan',
    device: 'Thiết bị',
    role: 'Vai trò',
    lastSeen: 'Tín hiệu cuối',
    never: 'chưa bao giờ',
    reason: 'Nguyên nhân',
    range_24h: '24 giờ',
    range_7d: '7 ngày',
    range_30d: '30 ngày',
    rangeLabel: 'Khoảng thời gian',
    timeline: 'Diễn biến trạng thái',
    availability: 'Tỷ lệ hoạt động',
    availabilityNote: '(Hoạt động + Suy giảm) / thời gian đã biết',
    coverage: 'Độ phủ dữ liệu',
    timeInState: 'Thời gian theo trạng thái',
    noData: 'Chưa có dữ liệu',
    currentReadings: 'Số liệu hiện tại',
    field: 'Thông số',
    value: 'Giá trị',
    measuredAt: 'Đo lúc {time}',
    yes: 'Có',
    no: 'Không',
    trends: 'Biểu đồ xu hướng',
    sparkRange: 'thấp nhất {min} · cao nhất {max}',
    sampled: 'Dữ liệu được lấy mẫu (bộ đệm lớn).',
    spoolStarts: 'Bộ đệm chỉ còn số liệu từ {time}.',
    incidents: 'Sự cố gần đây',
    incidentsNone: 'Không có sự cố trong khoảng thời gian này.',
    incStart: 'Bắt đầu',
    incEnd: 'Kết thúc',
    incDuration: 'Thời gian',
    incOngoing: 'Đang diễn ra',
    incEndUnknown: 'không rõ (gateway tắt)',
    deviceNotFound: 'Không tìm thấy thiết bị {id}.',
    // indicators
    indicatorsTitle: 'Kết quả thực hiện chỉ tiêu',
    periodKind: 'Kỳ báo cáo',
    pk_month: 'Tháng',
    pk_quarter: 'Quý',
    pk_half: '6 tháng',
    pk_year: 'Năm',
    year: 'Năm',
    monthN: 'Tháng {n}',
    quarterN: 'Quý {n}',
    half1: '6 tháng đầu năm',
    half2: '6 tháng cuối năm',
    periodTitle_month: 'tháng {m}/{y}',
    periodTitle_quarter: 'quý {q} năm {y}',
    periodTitle_half1: '6 tháng đầu năm {y}',
    periodTitle_half2: '6 tháng cuối năm {y}',
    periodTitle_year: 'năm {y}',
    show: 'Xem',
    colNo: 'STT',
    colName: 'Nội dung chỉ tiêu',
    colUnit: 'Đơn vị tính',
    colTarget: 'Chỉ tiêu',
    colResult: 'Kết quả',
    colStatus: 'Đánh giá',
    colCoverage: 'Độ phủ dữ liệu',
    colResponsible: 'Đơn vị theo dõi',
    status_DAT: 'Đạt',
    status_CHUA_DAT: 'Chưa đạt',
    status_KHONG_DU_DU_LIEU: 'Không đủ dữ liệu',
    byHamlet: 'Chi tiết theo ấp',
    numDen: 'Tử số / mẫu số',
    partial: 'Kỳ chưa kết thúc: số liệu tính đến {time}.',
    generatedAt: 'Tính lúc {time}',
    gatewayCoverage: 'Gateway hoạt động {pct} thời gian của kỳ',
    noTarget: '—',
    download: 'Tải báo cáo {period}',
    downloadAs: 'Tải {fmt}',
    downloading: 'Đang tạo báo cáo…',
    downloadFailed: 'Không tải được báo cáo: {msg}',
    indicatorsMissing: 'Chức năng chỉ tiêu chưa được bật trên gateway này.',
    // admin
    adminTitle: 'Quản trị',
    forbidden: 'Tài khoản của bạn không có quyền xem trang này.',
    alerts: 'Cảnh báo đang mở',
    alertsNone: 'Không có cảnh báo nào.',
    sev_critical: 'Nghiêm trọng',
    sev_warning: 'Cần chú ý',
    alertSent: 'đã gửi thông báo',
    ackedBy: 'Đã xác nhận: {name}',
    alertOutbox: 'Thông báo cảnh báo đã gửi',
    phase_fire: 'Cảnh báo',
    phase_repeat: 'Nhắc lại',
    phase_recover: 'Đã khôi phục',
    alertOutboxNone: 'Chưa có thông báo nào.',
    channel: 'Kênh',
    attempts: 'Số lần gửi',
    sent: 'Đã gửi',
    parked: 'Bị từ chối',
    pending: 'Đang chờ gửi lại',
    iocOutbox: 'Hàng đợi gửi IOC tỉnh',
    iocDepth: 'Tin đang chờ',
    iocOldest: 'Tin cũ nhất chờ',
    iocLastSuccess: 'Gửi thành công lần cuối',
    iocLastError: 'Lỗi gần nhất',
    acknowledge: 'Xác nhận',
    acknowledged: 'Đã xác nhận',
    rejects: 'Tin nhắn bị từ chối',
    rejectsNone: 'Không có tin nhắn bị từ chối.',
    quarantine: 'Điểm dữ liệu bị cách ly ({sink})',
    quarantineNone: 'Không có điểm dữ liệu bị cách ly.',
    outbox: 'Tin gửi IOC bị từ chối',
    outboxNone: 'Không có tin bị trả lại.',
    notEnabled: 'Chức năng chưa được bật trên gateway này.',
    time: 'Thời gian',
    code: 'Mã lỗi',
    client: 'Nguồn',
    topic: 'Chủ đề MQTT',
    detail: 'Chi tiết',
    severity: 'Mức độ',
    message: 'Nội dung',
    // live announcements (aria-live)
    announceDown: '{name} mất kết nối',
    announceUp: '{name} hoạt động trở lại',
    // reasons
    r_offline: 'Thiết bị báo ngắt kết nối',
    'r_heartbeat-timeout': 'Không nhận được tín hiệu',
    'r_never-seen': 'Chưa từng nhận dữ liệu',
    'r_gateway-stopped': 'Gateway đã dừng',
    'r_gateway-down': 'Gateway mất điện hoặc tắt đột ngột',
    'r_gateway-restart': 'Gateway khởi động lại',
    r_online: 'Đã kết nối lại',
    r_ok: 'Bình thường',
    'r_amp-fault': 'Lỗi bộ khuếch đại',
    'r_speaker-line-fault': 'Lỗi đường dây loa',
    'r_supply-low': 'Điện áp nguồn thấp',
    'r_supply-high': 'Điện áp nguồn cao',
    'r_cellular-weak': 'Sóng di động yếu',
    'r_signal-weak': 'Tín hiệu yếu',
    'r_link-down': 'Đường truyền mất kết nối',
    'r_loss-high': 'Mất gói cao',
    'r_rtt-high': 'Độ trễ cao',
    'r_stream-down': 'Mất luồng video',
    'r_no-video': 'Không có hình',
    'r_not-recording': 'Không ghi hình',
    'r_fps-low': 'Tốc độ khung hình thấp',
    'r_ioc-link-down': 'Chưa kết nối về IOC tỉnh',
    'r_reported-offline': 'Đầu ghi báo camera ngoại tuyến',
    'r_radio-down': 'Không phát sóng Wi-Fi',
    'r_uplink-down': 'Mất đường truyền lên',
    'r_channel-busy': 'Kênh Wi-Fi quá tải',
    'r_not-registered': 'Chưa đăng ký với MCU',
    'r_call-loss-high': 'Mất gói cao trong cuộc họp',
    'r_mains-lost': 'Mất điện lưới',
    'r_on-battery': 'Đang chạy bằng ắc quy',
    'r_battery-low': 'Ắc quy yếu',
    'r_battery-exhausting': 'Ắc quy sắp cạn',
    'r_ups-output-off': 'UPS ngắt đầu ra',
    'r_input-voltage-out-of-range': 'Điện áp vào ngoài ngưỡng',
    'r_probe-dry-or-disconnected': 'Đầu dò khô hoặc bị rút',
    'r_cpu-high': 'Tải CPU cao',
    r_timeout: 'Hết thời gian chờ',
    r_unreachable: 'Không truy cập được',
    r_refused: 'Bị từ chối kết nối',
    r_hot: 'Nhiệt độ cao',
    r_implausible: 'Giá trị bất thường',
    // device roles (settings devices[].role)
    dr_onestop: 'Một cửa',
    dr_security: 'An ninh',
    dr_traffic: 'Giao thông',
    dr_farm: 'Nông trại',
    dr_wan: 'Internet (WAN)',
    dr_tslcd: 'Mạng TSLCD',
    dr_firewall: 'Tường lửa',
    dr_lan_switch: 'Switch LAN',
    dr_public: 'Công cộng',
    dr_government: 'Công vụ',
    dr_office: 'Văn phòng',
    dr_rack: 'Tủ mạng',
    dr_hamlet: 'Tại ấp',
    dr_center: 'Trung tâm',
    // units of time
    u_s: 'giây',
    u_min: 'phút',
    u_h: 'giờ',
    u_d: 'ngày',
    justNow: 'vừa xong',
  },
  en: {
    appTitle: 'Digital infrastructure monitor',
    skip: 'Skip to main content',
    navOverview: 'Overview',
    navIndicators: 'Indicators',
    navAdmin: 'Administration',
    langSwitch: 'Tiếng Việt',
    langSwitchLabel: 'Switch to Vietnamese',
    logout: 'Log out',
    role_viewer: 'Viewer',
    role_officer: 'IT officer',
    role_admin: 'Administrator',
    demo: 'DEMO',
    live: 'Live',
    liveConnecting: 'Connecting…',
    liveLost: 'Live connection lost, retrying',
    loading: 'Loading…',
    retry: 'Retry',
    loadFailed: 'Could not load data: {msg}',
    loginTitle: 'Log in',
    loginIntro: 'Enter the access token (API token) from your administrator. The DEMO prints a viewer token at start.',
    tokenLabel: 'Access token',
    loginButton: 'Log in',
    loginInvalid: 'The access token is not valid.',
    loginFailed: 'Cannot reach the gateway: {msg}',
    state_UP: 'Up',
    state_DEGRADED: 'Degraded',
    state_DOWN: 'Down',
    state_UNKNOWN: 'Unknown',
    total: 'Total',
    devicesCount: '{n} devices',
    overviewTitle: 'Overview',
    downNow: 'Down now',
    downNone: 'No device is down.',
    since: 'since {time}',
    byKind: 'By device kind',
    kind: 'Device kind',
    hamlets: 'Hamlets',
    hamlet: 'Hamlet',
    hamletDown: '{n} down',
    hamletNoDevices: 'No devices yet',
    updatedAt: 'Updated {time}',
    backToOverview: 'Overview',
    device: 'Device',
    role: 'Role',
    lastSeen: 'Last heard',
    never: 'never',
    reason: 'Reason',
    range_24h: '24 hours',
    range_7d: '7 days',
    range_30d: '30 days',
    rangeLabel: 'Time range',
    timeline: 'State timeline',
    availability: 'Availability',
    availabilityNote: '(Up + Degraded) / known time',
    coverage: 'Data coverage',
    timeInState: 'Time in each state',
    noData: 'No data yet',
    currentReadings: 'Current readings',
    field: 'Field',
    value: 'Value',
    measuredAt: 'Measured {time}',
    yes: 'Yes',
    no: 'No',
    trends: 'Trends',
    sparkRange: 'min {min} · max {max}',
    sampled: 'Data is sampled (large spool).',
    spoolStarts: 'The spool only holds readings since {time}.',
    incidents: 'Recent incidents',
    incidentsNone: 'No incidents in this range.',
    incStart: 'Started',
    incEnd: 'Ended',
    incDuration: 'Duration',
    incOngoing: 'Ongoing',
    incEndUnknown: 'unknown (gateway off)',
    deviceNotFound: 'No device {id}.',
    indicatorsTitle: 'Indicator results',
    periodKind: 'Period',
    pk_month: 'Month',
    pk_quarter: 'Quarter',
    pk_half: 'Half-year',
    pk_year: 'Year',
    year: 'Year',
    monthN: 'Month {n}',
    quarterN: 'Q{n}',
    half1: 'First half',
    half2: 'Second half',
    periodTitle_month: '{m}/{y}',
    periodTitle_quarter: 'Q{q} {y}',
    periodTitle_half1: 'first half of {y}',
    periodTitle_half2: 'second half of {y}',
    periodTitle_year: '{y}',
    show: 'Show',
    colNo: 'No.',
    colName: 'Indicator',
    colUnit: 'Unit',
    colTarget: 'Target',
    colResult: 'Result',
    colStatus: 'Assessment',
    colCoverage: 'Data coverage',
    colResponsible: 'Responsible unit',
    status_DAT: 'Met',
    status_CHUA_DAT: 'Not met',
    status_KHONG_DU_DU_LIEU: 'Insufficient data',
    byHamlet: 'By hamlet',
    numDen: 'Numerator / denominator',
    partial: 'The period is not over: figures up to {time}.',
    generatedAt: 'Computed {time}',
    gatewayCoverage: 'Gateway running {pct} of the period',
    noTarget: '—',
    download: 'Download the report for {period}',
    downloadAs: 'Download {fmt}',
    downloading: 'Building the report…',
    downloadFailed: 'Could not download the report: {msg}',
    indicatorsMissing: 'Indicators are not enabled on this gateway.',
    adminTitle: 'Administration',
    forbidden: 'Your account may not see this page.',
    alerts: 'Open alerts',
    alertsNone: 'No open alerts.',
    sev_critical: 'Critical',
    sev_warning: 'Warning',
    alertSent: 'notice sent',
    ackedBy: 'Acknowledged by {name}',
    alertOutbox: 'Alert notices',
    phase_fire: 'Alert',
    phase_repeat: 'Repeat',
    phase_recover: 'Recovered',
    alertOutboxNone: 'No notices yet.',
    channel: 'Channel',
    attempts: 'Attempts',
    sent: 'Sent',
    parked: 'Refused',
    pending: 'Waiting for retry',
    iocOutbox: 'Province IOC outbox',
    iocDepth: 'Messages waiting',
    iocOldest: 'Oldest waiting',
    iocLastSuccess: 'Last delivered',
    iocLastError: 'Last error',
    acknowledge: 'Acknowledge',
    acknowledged: 'Acknowledged',
    rejects: 'Rejected messages',
    rejectsNone: 'No rejected messages.',
    quarantine: 'Quarantined points ({sink})',
    quarantineNone: 'No quarantined points.',
    outbox: 'IOC messages rejected by the receiver',
    outboxNone: 'No rejected messages.',
    notEnabled: 'Not enabled on this gateway.',
    time: 'Time',
    code: 'Code',
    client: 'Source',
    topic: 'MQTT topic',
    detail: 'Detail',
    severity: 'Severity',
    message: 'Message',
    announceDown: '{name} is down',
    announceUp: '{name} is back up',
    r_offline: 'Device reported offline',
    'r_heartbeat-timeout': 'No signal received',
    'r_never-seen': 'Never heard from',
    'r_gateway-stopped': 'Gateway stopped',
    'r_gateway-down': 'Gateway lost power or crashed',
    'r_gateway-restart': 'Gateway restarted',
    r_online: 'Reconnected',
    r_ok: 'Normal',
    'r_amp-fault': 'Amplifier fault',
    'r_speaker-line-fault': 'Speaker line fault',
    'r_supply-low': 'Supply voltage low',
    'r_supply-high': 'Supply voltage high',
    'r_cellular-weak': 'Weak cellular signal',
    'r_signal-weak': 'Weak signal',
    'r_link-down': 'Link down',
    'r_loss-high': 'High packet loss',
    'r_rtt-high': 'High latency',
    'r_stream-down': 'Video stream down',
    'r_no-video': 'No video',
    'r_not-recording': 'Not recording',
    'r_fps-low': 'Low frame rate',
    'r_ioc-link-down': 'Not connected to the province IOC',
    'r_reported-offline': 'NVR reports the camera offline',
    'r_radio-down': 'Wi-Fi radio down',
    'r_uplink-down': 'Uplink down',
    'r_channel-busy': 'Wi-Fi channel congested',
    'r_not-registered': 'Not registered with the MCU',
    'r_call-loss-high': 'High loss in the call',
    'r_mains-lost': 'Mains power lost',
    'r_on-battery': 'On battery',
    'r_battery-low': 'Battery low',
    'r_battery-exhausting': 'Battery nearly empty',
    'r_ups-output-off': 'UPS output off',
    'r_input-voltage-out-of-range': 'Input voltage out of range',
    'r_probe-dry-or-disconnected': 'Probe dry or disconnected',
    'r_cpu-high': 'High CPU load',
    r_timeout: 'Timed out',
    r_unreachable: 'Unreachable',
    r_refused: 'Connection refused',
    r_hot: 'Temperature high',
    r_implausible: 'Implausible value',
    dr_onestop: 'One-stop shop',
    dr_security: 'Security',
    dr_traffic: 'Traffic',
    dr_farm: 'Farm',
    dr_wan: 'Internet (WAN)',
    dr_tslcd: 'Gov. data line (TSLCD)',
    dr_firewall: 'Firewall',
    dr_lan_switch: 'LAN switch',
    dr_public: 'Public',
    dr_government: 'Government',
    dr_office: 'Office',
    dr_rack: 'Rack',
    dr_hamlet: 'Hamlet site',
    dr_center: 'Centre',
    u_s: 's',
    u_min: 'min',
    u_h: 'h',
    u_d: 'd',
    justNow: 'just now',
  },
};

const LANG_KEY = 'ce.lang';
let lang = (() => {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    return saved === 'en' || saved === 'vi' ? saved : 'vi';
  } catch {
    return 'vi';
  }
})();
let timeZone = 'Asia/Ho_Chi_Minh';

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'vi';
  try {
    localStorage.setItem(LANG_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = lang;
  cache.clear();
}

/** The commune's zone (settings commune.timezone), for every date shown. */
export function setTimeZone(tz) {
  timeZone = tz || 'Asia/Ho_Chi_Minh';
  cache.clear();
}

/** A string of the table, `{name}` placeholders filled from `params`. */
export function t(key, params) {
  const s = STRINGS[lang][key] ?? STRINGS.vi[key] ?? key;
  return params ? s.replace(/\{(\w+)\}/g, (_, k) => (params[k] ?? `{${k}}`).toString()) : s;
}

/** Vietnamese or English of a `{ vi, en }` label from the API. */
export function label(l) {
  if (!l) return '';
  return typeof l === 'string' ? l : (l[lang] ?? l.vi ?? '');
}

/** A device state reason in words; unknown machine reasons are shown as they are. */
export function reasonText(reason) {
  if (!reason) return '';
  const key = `r_${reason}`;
  if (STRINGS.vi[key]) return t(key);
  if (reason.endsWith('-hot')) return t('r_hot');
  if (reason.startsWith('implausible-')) return `${t('r_implausible')} (${reason.slice(12)})`;
  return reason;
}

// --- Intl formatters (built once per language and zone) --------------------
const cache = new Map();
function intl(key, make) {
  let f = cache.get(key);
  if (!f) {
    f = make();
    cache.set(key, f);
  }
  return f;
}
const locale = () => (lang === 'vi' ? 'vi-VN' : 'en-GB');

/** 98,5 (vi) / 98.5 (en); `digits` = maximum fraction digits. */
export function fmtNumber(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return intl(`n${digits}`, () => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits })).format(v);
}

/** A 0..1 share as a percentage: 0,985 → "98,5 %". */
export function fmtShare(v, digits = 1) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${fmtNumber(v * 100, digits)} %`;
}

/** dd/mm/yyyy HH:mm in the commune's zone. */
export function fmtDateTime(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const f = intl('dt', () =>
    new Intl.DateTimeFormat('en-GB', { timeZone, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
  );
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
}

/** dd/mm (or dd/mm HH:mm when `withTime`) for axis labels. */
export function fmtShort(ms, withTime) {
  const f = intl('short', () =>
    new Intl.DateTimeFormat('en-GB', { timeZone, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
  );
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return withTime ? `${p.hour}:${p.minute}` : `${p.day}/${p.month}`;
}

/** "3 phút trước" / "3 minutes ago". */
export function fmtRelative(ms, now = Date.now()) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const s = Math.round((ms - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return t('justNow');
  const rtf = intl('rel', () => new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' }));
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 48 * 3600) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

/** "2 giờ 15 phút" / "2 h 15 min": the two largest units. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  let s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [];
  if (d) parts.push(`${d} ${t('u_d')}`);
  if (h) parts.push(`${h} ${t('u_h')}`);
  if (m && parts.length < 2) parts.push(`${m} ${t('u_min')}`);
  if (!parts.length) parts.push(`${s} ${t('u_s')}`);
  return parts.slice(0, 2).join(' ');
}
