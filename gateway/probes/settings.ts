/**
 * Settings of the gateway's own probes (`probes:` in the config).
 * SKELETON: owned by the probes work (issue 4); replace with the real schema.
 * The SNMP target schema lives in ./snmp/settings.ts (owned by the SNMP work).
 */
import { z } from 'zod';
import type { CheckRefs } from '../settings/check-kit.js';
import { SnmpTargetSchema } from './snmp/settings.js';

const IcmpTarget = z.strictObject({ type: z.literal('icmp'), device: z.string() });

export const ProbeTargetSchema = z.discriminatedUnion('type', [IcmpTarget, SnmpTargetSchema]);

export const ProbesSchema = z.strictObject({
  targets: z.array(ProbeTargetSchema).default([]),
});
export type ProbesSettings = z.output<typeof ProbesSchema>;

export function checkProbes(_raw: Record<string, unknown>, _refs: CheckRefs): void {}
