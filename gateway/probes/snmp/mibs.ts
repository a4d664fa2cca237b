/**
 * The standard MIB objects the SNMP probe reads, by dotted OID (no MIB files are
 * loaded at run time), and the BER tags of the values it meets.
 */

/** Varbind value tags (X.690 BER; application tags from RFC 2578 §7.1 and RFC 3416 §3 for the exceptions). */
export const ASN = {
  Integer: 2,
  OctetString: 4,
  Null: 5,
  OID: 6,
  IpAddress: 64,
  Counter32: 65,
  Gauge32: 66,
  TimeTicks: 67,
  Opaque: 68,
  Counter64: 70,
  NoSuchObject: 128,
  NoSuchInstance: 129,
  EndOfMibView: 130,
} as const;

/** SNMPv2-MIB (RFC 3418): sysUpTime, hundredths of a second since the agent (re)started. */
export const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';

/** IF-MIB (RFC 2863). ifTable columns (…2.2.1.N) and ifXTable columns (…31.1.1.1.N), indexed by ifIndex. */
export const IF = {
  ifDescr: '1.3.6.1.2.1.2.2.1.2',
  ifOperStatus: '1.3.6.1.2.1.2.2.1.8',
  ifInOctets: '1.3.6.1.2.1.2.2.1.10',
  ifOutOctets: '1.3.6.1.2.1.2.2.1.16',
  ifName: '1.3.6.1.2.1.31.1.1.1.1',
  ifHCInOctets: '1.3.6.1.2.1.31.1.1.1.6',
  ifHCOutOctets: '1.3.6.1.2.1.31.1.1.1.10',
  ifAlias: '1.3.6.1.2.1.31.1.1.1.18',
} as const;

/**
 * ifOperStatus (RFC 2863 §6, ifOperStatus): up(1), down(2), testing(3), unknown(4),
 * dormant(5), notPresent(6), lowerLayerDown(7). dormant is "ready but waiting for
 * an external event" (dial-on-demand, a standby LAG member): not a fault. testing
 * and unknown say nothing about the link, so they leave `link_up` out.
 */
export function operStatusUp(status: number): boolean | undefined {
  if (status === 1 || status === 5) return true;
  if (status === 2 || status === 6 || status === 7) return false;
  return undefined;
}

/** HOST-RESOURCES-MIB (RFC 2790): hrProcessorLoad, % of the last minute the processor was busy, per hrDeviceIndex. */
export const HR_PROCESSOR_LOAD = '1.3.6.1.2.1.25.3.3.1.2';

/**
 * UPS-MIB (RFC 1628). Line tables (upsInputTable, upsOutputTable) are read at
 * line 1: commune UPSs are single-phase.
 */
export const UPS = {
  /** upsBattery group (…33.1.2) */
  upsEstimatedMinutesRemaining: '1.3.6.1.2.1.33.1.2.3.0',
  upsEstimatedChargeRemaining: '1.3.6.1.2.1.33.1.2.4.0',
  /** upsInputTable …33.1.3.3.1.N.line: column 3 upsInputVoltage (RMS Volts) */
  upsInputVoltage: '1.3.6.1.2.1.33.1.3.3.1.3.1',
  /** upsOutput group (…33.1.4) */
  upsOutputSource: '1.3.6.1.2.1.33.1.4.1.0',
  /** upsOutputTable …33.1.4.4.1.N.line: column 2 upsOutputVoltage (RMS Volts), 5 upsOutputPercentLoad */
  upsOutputVoltage: '1.3.6.1.2.1.33.1.4.4.1.2.1',
  upsOutputPercentLoad: '1.3.6.1.2.1.33.1.4.4.1.5.1',
} as const;

/** upsOutputSource (RFC 1628): other(1), none(2), normal(3), bypass(4), battery(5), booster(6), reducer(7). */
export const UPS_OUTPUT_SOURCE = { other: 1, none: 2, normal: 3, bypass: 4, battery: 5, booster: 6, reducer: 7 } as const;

/** usmStats counters (RFC 3414 §5, 1.3.6.1.6.3.15.1.1.N) an agent reports a refused v3 request with. */
export const USM_STATS = {
  unsupportedSecLevels: 1,
  notInTimeWindows: 2,
  unknownUserNames: 3,
  unknownEngineIDs: 4,
  wrongDigests: 5,
  decryptionErrors: 6,
} as const;
