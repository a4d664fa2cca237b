/**
 * Settings of the serial Modbus RTU transport (`modbus:` in the config).
 * SKELETON: owned by the Modbus work (issue 4); replace with the real schema.
 */
import { z } from 'zod';
import type { CheckRefs } from '../../settings/check-kit.js';

export const ModbusSchema = z.strictObject({
  buses: z.array(z.strictObject({ id: z.string() })).default([]),
});
export type ModbusSettings = z.output<typeof ModbusSchema>;

/** Cross-references (devices named by slaves exist and are soil probes, ...). */
export function checkModbus(_raw: Record<string, unknown>, _refs: CheckRefs): void {}
