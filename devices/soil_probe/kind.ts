/**
 * Soil probe (cảm biến độ ẩm đất) on a "Nông nghiệp số" pilot farm: a buried
 * capacitive/FDR probe measuring volumetric water content, soil temperature,
 * electrical conductivity and pH (and N/P/K on "7-in-1" probes), read over RS-485
 * (Modbus RTU: the gateway's own serial input, gateway/inputs/modbus) or LoRa by a
 * bridge that publishes over MQTT. See README.md.
 */
import { battery, capability, heartbeat, rssi } from '../capabilities.js';
import { defineKind, type FieldSpec, type Label } from '../define.js';
import { soilProbeSimulator } from './simulator.js';

/**
 * A probe pulled out of the soil (tillage, animals, a washed-out bed) or with a cut
 * cable reads air: the dielectric sensor reports about 0 % VWC and the EC electrodes
 * see no conductive path (about 0 µS/cm). Real field soil, even in the dry season,
 * keeps a few % VWC and some conductivity, so both at the floor together means the
 * reading does not describe the soil. Moisture alone at 0 is not enough (dry sand).
 */
const DRY_MOISTURE_PCT = 1;
const DRY_EC_US_CM = 10;

/** Full scale of the widest common NPK probe (CWT NPK type: 1..2999 mg/kg). */
const NPK_MAX_MG_KG = 2999;

function npk(name: string, label: Label): FieldSpec {
  return { name, type: 'float', unit: 'mg/kg', min: 0, max: NPK_MAX_MG_KG, label };
}

export const soilProbe = defineKind({
  id: 'soil_probe',
  label: { vi: 'Cảm biến độ ẩm đất', en: 'Soil-moisture probe' },
  roles: ['farm'],
  capabilities: [
    // 15 min: soil moisture changes over hours; battery probes report rarely to last years.
    heartbeat({ intervalS: 900 }),
    capability(
      'soil',
      [
        {
          name: 'moisture_pct',
          type: 'float',
          unit: '%',
          min: 0,
          max: 100,
          label: { vi: 'Độ ẩm đất (thể tích)', en: 'Soil moisture (VWC)' },
        },
        {
          name: 'soil_temp_c',
          type: 'float',
          unit: '°C',
          min: -20,
          max: 70,
          label: { vi: 'Nhiệt độ đất', en: 'Soil temperature' },
        },
        {
          name: 'ec_us_cm',
          type: 'float',
          unit: 'µS/cm',
          min: 0,
          max: 20_000,
          label: { vi: 'Độ dẫn điện của đất (EC)', en: 'Soil electrical conductivity' },
        },
        {
          // pH is dimensionless; the name carries no unit suffix on purpose.
          name: 'ph',
          type: 'float',
          unit: 'pH',
          min: 3,
          max: 10,
          label: { vi: 'Độ pH của đất', en: 'Soil pH' },
        },
        // Available nitrogen, phosphorus and potassium of "7-in-1" NPK probes (CWT
        // NPK-type manual V1.4: 1..2999 mg/kg, resolution 1 mg/kg; other vendors
        // 0..1999 or 0..2000). Beyond the widest full scale is a sensor error value
        // (0xFFFF = 65535), not soil: kept, the reading marked uncertain.
        npk('nitrogen_mg_kg', { vi: 'Hàm lượng đạm (N)', en: 'Nitrogen (N)' }),
        npk('phosphorus_mg_kg', { vi: 'Hàm lượng lân (P)', en: 'Phosphorus (P)' }),
        npk('potassium_mg_kg', { vi: 'Hàm lượng kali (K)', en: 'Potassium (K)' }),
      ],
      (f) => {
        const m = f['moisture_pct'];
        const ec = f['ec_us_cm'];
        if (typeof m === 'number' && typeof ec === 'number' && m <= DRY_MOISTURE_PCT && ec <= DRY_EC_US_CM) {
          return { state: 'DEGRADED', reason: 'probe-dry-or-disconnected' };
        }
        return undefined;
      },
    ),
    // Battery probes (LoRa); an RS-485 probe powered by its bridge simply omits it.
    battery({ lowPct: 20 }),
    // LoRa RSSI at the gateway. SX127x receivers (Semtech datasheet) decode down to
    // roughly -123 dBm at SF7 and -136 dBm at SF12 (125 kHz); below -115 dBm a node
    // at a low spreading factor is near its margin and starts losing uplinks.
    rssi({ weakDbm: -115 }),
  ],
  simulator: soilProbeSimulator,
});
