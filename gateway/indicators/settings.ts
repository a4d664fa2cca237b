/**
 * `indicators:` settings (targets, responsible units, maintenance windows).
 * SKELETON: owned by the indicators work (issue 5); replace with the real schema.
 */
import { z } from 'zod';
import type { CheckRefs } from '../settings/check-kit.js';

export const IndicatorsSchema = z.strictObject({}).default({});
export type IndicatorsSettings = z.output<typeof IndicatorsSchema>;

export function checkIndicators(_raw: Record<string, unknown>, _refs: CheckRefs): void {}
