/**
 * Settings of one SNMP probe target (`probes.targets[]` with `type: snmp`).
 * SKELETON: owned by the SNMP work (issue 4); replace with the real schema.
 */
import { z } from 'zod';

export const SnmpTargetSchema = z.strictObject({
  type: z.literal('snmp'),
  device: z.string(),
});
export type SnmpTarget = z.output<typeof SnmpTargetSchema>;
