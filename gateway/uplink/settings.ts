/**
 * `ioc:` settings (the province IOC feed and optional MQTT uplink).
 * SKELETON: owned by the IOC feed work (issue 5); replace with the real schema.
 */
import { z } from 'zod';
import type { CheckRefs } from '../settings/check-kit.js';

export const IocSchema = z.strictObject({});
export type IocSettings = z.output<typeof IocSchema>;

export function checkIoc(_raw: Record<string, unknown>, _refs: CheckRefs): void {}
