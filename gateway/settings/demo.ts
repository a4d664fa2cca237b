/**
 * The demo commune: 19 hamlets (ấp) like Tà Lài, ~60 devices of every kind, as a
 * settings object. `commune-edge demo-config` writes it to
 * config/demo-commune.yaml (checked in); `start` without a config loads that
 * file. Every demo device's MQTT password is "demo-<device id>" (DEMO ONLY).
 */
import { hashPassword } from '../credentials.js';
import type { SettingsInput } from './schema.js';

export const DEMO_PASSWORD = (username: string) => `demo-${username}`;
/** Cheap scrypt cost for the demo only, so 60 simulated logins are instant on a Pi. */
const DEMO_SCRYPT = { N: 1024, r: 8, p: 1 };

type DeviceInput = NonNullable<SettingsInput['devices']>[number];

export function buildDemoSettings(): SettingsInput {
  const hamlets = Array.from({ length: 19 }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return { id: `ap-${n}`, name: `Ấp ${i + 1}`, population: 900 + ((i * 137) % 700) };
  });
  const devices: DeviceInput[] = [];
  const own = (d: Omit<DeviceInput, 'passwordHash'>): DeviceInput => ({ ...d, passwordHash: hashPassword(DEMO_PASSWORD(d.id), DEMO_SCRYPT) });

  // Loudspeaker clusters: one per hamlet plus the commune centre; 4G controllers
  // of a vendor whose payload names differ from ours (profile loa-4g).
  for (const h of hamlets) {
    devices.push(own({ id: `loa-${h.id}`, name: `Cụm loa ${h.name}`, kind: 'loudspeaker', hamlet: h.id, role: 'hamlet', profile: 'loa-4g' }));
  }
  devices.push(own({ id: 'loa-trung-tam', name: 'Cụm loa trụ sở UBND xã', kind: 'loudspeaker', hamlet: 'ap-01', role: 'center', profile: 'loa-4g' }));

  // Cameras, reported by the NVR of the commune office.
  for (let i = 1; i <= 4; i++) {
    devices.push({ id: `cam-motcua-${i}`, name: `Camera bộ phận một cửa ${i}`, kind: 'camera', hamlet: 'ap-01', role: 'onestop', bridge: 'nvr-ubnd' });
  }
  const securityHamlets = ['ap-02', 'ap-04', 'ap-06', 'ap-08', 'ap-10', 'ap-12', 'ap-15', 'ap-18'];
  securityHamlets.forEach((h, i) => {
    devices.push({ id: `cam-anninh-${i + 1}`, name: `Camera an ninh ${i + 1} (${h})`, kind: 'camera', hamlet: h, role: 'security', bridge: 'nvr-ubnd' });
  });
  devices.push({ id: 'cam-giaothong-1', name: 'Camera giao thông ngã ba trung tâm', kind: 'camera', hamlet: 'ap-01', role: 'traffic', bridge: 'nvr-ubnd' });
  devices.push({ id: 'cam-giaothong-2', name: 'Camera giao thông cầu ấp 7', kind: 'camera', hamlet: 'ap-07', role: 'traffic', bridge: 'nvr-ubnd' });
  devices.push({ id: 'cam-nongtrai-1', name: 'Camera mô hình nông nghiệp số 1', kind: 'camera', hamlet: 'ap-11', role: 'farm', bridge: 'nvr-ubnd' });
  devices.push({ id: 'cam-nongtrai-2', name: 'Camera mô hình nông nghiệp số 2', kind: 'camera', hamlet: 'ap-14', role: 'farm', bridge: 'nvr-ubnd' });

  // Network, reported by the monitoring agent on the office LAN.
  devices.push({ id: 'wan-vnpt', name: 'Đường truyền internet VNPT', kind: 'network', hamlet: 'ap-01', role: 'wan', bridge: 'agent-mang' });
  devices.push({ id: 'wan-viettel', name: 'Đường truyền internet Viettel (dự phòng)', kind: 'network', hamlet: 'ap-01', role: 'wan', bridge: 'agent-mang' });
  devices.push({ id: 'tslcd', name: 'Mạng truyền số liệu chuyên dùng', kind: 'network', hamlet: 'ap-01', role: 'tslcd', bridge: 'agent-mang' });
  devices.push({ id: 'firewall', name: 'Tường lửa trụ sở', kind: 'network', hamlet: 'ap-01', role: 'firewall', bridge: 'agent-mang' });
  devices.push({ id: 'switch-tang1', name: 'Switch LAN tầng 1', kind: 'network', hamlet: 'ap-01', role: 'lan_switch', bridge: 'agent-mang' });
  devices.push({ id: 'switch-tang2', name: 'Switch LAN tầng 2', kind: 'network', hamlet: 'ap-01', role: 'lan_switch', bridge: 'agent-mang' });

  // Wi-Fi: government Wi-Fi at the office, free public Wi-Fi at community points.
  devices.push(own({ id: 'wifi-congvu-1', name: 'Wi-Fi công vụ tầng 1', kind: 'wifi_ap', hamlet: 'ap-01', role: 'government' }));
  devices.push(own({ id: 'wifi-congvu-2', name: 'Wi-Fi công vụ tầng 2', kind: 'wifi_ap', hamlet: 'ap-01', role: 'government' }));
  for (const h of ['ap-03', 'ap-05', 'ap-09', 'ap-13', 'ap-16', 'ap-19']) {
    devices.push(own({ id: `wifi-${h}`, name: `Wi-Fi công cộng nhà văn hóa ${h.replace('ap-', 'ấp ')}`, kind: 'wifi_ap', hamlet: h, role: 'public' }));
  }

  // Soil probes of two pilot farms, through a LoRa gateway.
  for (let i = 1; i <= 6; i++) {
    const hamlet = i <= 3 ? 'ap-11' : 'ap-14';
    devices.push({ id: `dat-${i}`, name: `Cảm biến độ ẩm đất ${i} (${i <= 3 ? 'trang trại A' : 'trang trại B'})`, kind: 'soil_probe', hamlet, role: 'farm', bridge: 'lora-gw' });
  }

  // Irrigation of the pilot farms: the PLC's pump station and a valve group, reported by the
  // farm bridge over MQTT in the demo (a real deployment reads the PLC over OPC UA: opcua:).
  devices.push({ id: 'tuoi-tram-bom-a', name: 'Trạm bơm tưới trang trại A', kind: 'irrigation', hamlet: 'ap-11', role: 'pump_station', bridge: 'lora-gw' });
  devices.push({ id: 'tuoi-van-b', name: 'Cụm van tưới trang trại B', kind: 'irrigation', hamlet: 'ap-14', role: 'valve_group', bridge: 'lora-gw' });

  // Office computers (seen by the LAN sweep in a real deployment; the network agent reports them in the demo).
  for (let i = 1; i <= 4; i++) {
    devices.push({ id: `pc-vanphong-${i}`, name: `Máy tính văn phòng ${i}`, kind: 'office_pc', hamlet: 'ap-01', role: 'office', bridge: 'agent-mang' });
  }
  devices.push({ id: 'pc-motcua-1', name: 'Máy tính bộ phận một cửa 1', kind: 'office_pc', hamlet: 'ap-01', role: 'onestop', bridge: 'agent-mang' });

  // Video conference endpoint of the meeting room.
  devices.push(own({ id: 'hntt-phonghop', name: 'Thiết bị hội nghị truyền hình phòng họp', kind: 'vconf', hamlet: 'ap-01', role: 'office' }));

  // Power.
  devices.push(own({ id: 'ups-vanphong', name: 'UPS văn phòng UBND', kind: 'power', hamlet: 'ap-01', role: 'office' }));
  devices.push(own({ id: 'ups-tu-mang', name: 'UPS tủ mạng', kind: 'power', hamlet: 'ap-01', role: 'rack' }));
  devices.push(own({ id: 'dien-ap-07', name: 'Nguồn điện trạm loa ấp 7', kind: 'power', hamlet: 'ap-07', role: 'hamlet' }));
  devices.push(own({ id: 'dien-ap-12', name: 'Nguồn điện trạm loa ấp 12', kind: 'power', hamlet: 'ap-12', role: 'hamlet' }));

  const bridge = (id: string, name: string) => ({ id, name, passwordHash: hashPassword(DEMO_PASSWORD(id), DEMO_SCRYPT) });

  return {
    $schema: './schema.json',
    commune: {
      code: '99999',
      name: 'Xã Tà Lài (DEMO)',
      province: { code: '75', name: 'Đồng Nai' },
      timezone: 'Asia/Ho_Chi_Minh',
    },
    gateway: { id: 'gw-demo', dataDir: './data/demo', heartbeatS: 30, demo: true },
    hamlets,
    profiles: {
      'loa-4g': {
        kind: 'loudspeaker',
        description: 'A typical 4G loudspeaker controller: its own topic layout and field names, supply in millivolts',
        topics: { telemetry: 'truyenthanh/{device}/trangthai', status: 'truyenthanh/{device}/lwt' },
        timestamp: { path: 'time', unit: 's' },
        fields: {
          rsrp_dbm: 'modem.rsrp',
          rsrq_db: 'modem.rsrq',
          sinr_db: 'modem.sinr',
          network_type: 'modem.net',
          supply_v: { path: 'power.mv', scale: 0.001 },
          amp_temp_c: 'amp.temp',
          amp_ok: { path: 'amp.status', values: { OK: true, FAULT: false } },
          playing: 'play.on',
          volume_pct: 'play.vol',
          speaker_faults: 'amp.line_faults',
          uptime_s: 'sys.uptime',
        },
      },
    },
    bridges: [
      bridge('nvr-ubnd', 'Đầu ghi hình (NVR) trụ sở UBND xã'),
      bridge('agent-mang', 'Agent giám sát mạng văn phòng'),
      bridge('lora-gw', 'Gateway LoRa mô hình nông nghiệp số'),
    ],
    devices,
    store: { maxBytes: 512 * 1024 ** 2 },
  };
}
