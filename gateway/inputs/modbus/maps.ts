/**
 * Built-in register maps of common RS-485 soil probes. A model not listed here is
 * added in config (`modbus.maps`), never in code. Addresses are 0-based PDU
 * addresses (what goes on the wire); vendor tables that number registers from 1
 * ("PLC address") are shifted by one.
 */
import type { RegisterMap, RegisterSpec, ResolvedMap } from './registers.js';
import { resolveMap } from './registers.js';

function reg(address: number, field: string, type: RegisterSpec['type'], scale = 1): RegisterSpec {
  return { field, address, type, wordOrder: 'high-first', scale, offset: 0 };
}

/**
 * ComWinTop (CWT) "7-in-1" NPK soil probe and the many rebadged "7-in-1 RS485
 * soil sensors" that copy its layout. FC 0x03, one read of 7 registers from 0x0000.
 *
 * Sources: CWT "Soil sensor (NPK type) manual" V1.4 (comwintop.com; default
 * 4800 8N1, address 1; wiring brown +, black −, yellow/green A+, blue B−); CWT's
 * configuration tool register table (PLC numbers 1..7 = humidity ×0.1, temperature
 * ×0.1 signed, conductivity, pH ×0.1, N, P, K; github.com/TronixLab/RS485-CWT-SOIL-
 * SENSOR-PROBE, files/Config Tool/html/js/cwt.sensors.js); the same order in the
 * WoMaster ES107 soil RS485 register table (0x0000 moisture 0..100.0 %, 0x0001
 * temperature -20.0..80.0 °C, 0x0002 EC µS/cm, 0x0003 pH 3.0..10.0, 0x0004..0x0006
 * N, P, K mg/kg). Some 7-in-1 clones (JXCT, DFRobot SEN0605) use another layout
 * (N/P/K at 0x001E..0x0020): give those a custom map.
 */
const CWT_7IN1: RegisterMap = {
  description: 'ComWinTop CWT NPK-type "7-in-1" soil probe: moisture, temperature, EC, pH, N, P, K (holding 0x0000..0x0006)',
  function: 'holding',
  registers: [
    reg(0x0000, 'moisture_pct', 'uint16', 0.1),
    // Signed: below 0 °C the probe sends two's complement (0xFFE2 = -3.0 °C).
    reg(0x0001, 'soil_temp_c', 'int16', 0.1),
    reg(0x0002, 'ec_us_cm', 'uint16'),
    reg(0x0003, 'ph', 'uint16', 0.1),
    reg(0x0004, 'nitrogen_mg_kg', 'uint16'),
    reg(0x0005, 'phosphorus_mg_kg', 'uint16'),
    reg(0x0006, 'potassium_mg_kg', 'uint16'),
  ],
};

/**
 * SenseCAP (Seeed) / INFWIN soil moisture & temperature & EC sensor,
 * S-Temp&VWC&EC-02. FC 0x03 (0x04 also answered), 3 registers from 0x0000.
 *
 * Source: Seeed "Soil Moisture & Temperature & EC Sensor User Manual",
 * S-Temp&VWC&EC-02 V1.0, §5.1 (factory 9600 8N1, Modbus RTU) and §5.2/§5.3:
 * 0x0000 TEMPERATURE INT16 -4000..8000 = -40.00..80.00 °C (two's complement, /100);
 * 0x0001 VWC UINT16 0..10000 = 0..100 % (/100); 0x0002 EC UINT16 0..20000 µS/cm.
 */
const SENSECAP_3IN1: RegisterMap = {
  description: 'SenseCAP / INFWIN S-Temp&VWC&EC-02 soil probe: temperature, VWC, EC (holding 0x0000..0x0002)',
  function: 'holding',
  registers: [reg(0x0000, 'soil_temp_c', 'int16', 0.01), reg(0x0001, 'moisture_pct', 'uint16', 0.01), reg(0x0002, 'ec_us_cm', 'uint16')],
};

export const BUILTIN_MAPS: Readonly<Record<string, RegisterMap>> = {
  'cwt-7in1': CWT_7IN1,
  'sensecap-3in1': SENSECAP_3IN1,
};

export type BuiltinMapId = keyof typeof BUILTIN_MAPS;
export const BUILTIN_MAP_IDS: readonly string[] = Object.keys(BUILTIN_MAPS);

/** A built-in map by id, resolved for polling; undefined for an unknown id. */
export function builtinMap(id: string): ResolvedMap | undefined {
  const m = BUILTIN_MAPS[id];
  return m ? resolveMap(id, m) : undefined;
}
