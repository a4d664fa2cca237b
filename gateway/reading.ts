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
   * Who stamped `ts`: the device (its payload carried a time) or the gateway (at
   * receipt, because the payload had none or its clock could not be trusted).
   */
  tsSource: 'device' | 'gateway';
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
