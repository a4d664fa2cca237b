/**
 * Settings of the OPC UA client transport (`opcua:` in the config).
 * SKELETON: owned by the OPC UA work (issue 4); replace with the real schema.
 */
import { z } from 'zod';
import type { CheckRefs } from '../../settings/check-kit.js';

export const OpcuaSchema = z.strictObject({
  servers: z.array(z.strictObject({ id: z.string() })).default([]),
});
export type OpcuaSettings = z.output<typeof OpcuaSchema>;

export function checkOpcua(_raw: Record<string, unknown>, _refs: CheckRefs): void {}
