import type { Fields } from '../devices/define.js';

/**
 * The one shape every input produces (MQTT, Modbus, OPC UA, probes). Nothing
 * downstream knows which transport a reading came from.
 */
export interface Reading {
  deviceId: string;
  kind: string;
  /** Epoch milliseconds of the measurement. */
  ts: number;
  /**
   * Who stamped `ts`: the device (its payload carried a time); the gateway, at
   * receipt, because the payload had none; or `restamped`: the payload's time
   * could not be trusted (before the gateway's last known good time, or in the
   * future: a device or a Pi without a real-time clock) and the gateway's
   * receipt time replaced it. Restamped readings are flagged in InfluxDB.
   */
  tsSource: 'device' | 'gateway' | 'restamped';
  /** Gateway clock at receipt, epoch ms. */
  receivedAt: number;
  fields: Fields;
  /**
   * good: validated and plausible; uncertain: validated but a value lies outside
   * the field's plausible range, or the device clock was off and the gateway
   * re-stamped it.
   */
  quality: 'good' | 'uncertain';
}
