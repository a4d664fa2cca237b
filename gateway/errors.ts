/**
 * Coded errors, shared by the API, the logs, the metrics (`reason` label) and the
 * CLI. Every code is documented in docs/errors.md; test/errors.test.ts fails when
 * one is missing there.
 */
export const ERRORS = {
  // --- configuration ---------------------------------------------------------
  CE_CONFIG_INVALID: { status: 500, message: 'The configuration file is invalid' },
  CE_CONFIG_UNREADABLE: { status: 500, message: 'The configuration file cannot be read or parsed as YAML' },
  // --- API -------------------------------------------------------------------
  CE_AUTH_REQUIRED: { status: 401, message: 'A bearer token is required' },
  CE_AUTH_INVALID: { status: 401, message: 'The bearer token is not valid' },
  CE_FORBIDDEN: { status: 403, message: 'The token role does not allow this action' },
  CE_NOT_FOUND: { status: 404, message: 'No such resource' },
  CE_BAD_REQUEST: { status: 400, message: 'The request is malformed (query, params or body)' },
  CE_INTERNAL: { status: 500, message: 'Unexpected internal error (logged with a request id)' },
  // --- device input (MQTT and other transports) -------------------------------
  CE_MQTT_AUTH: { status: 401, message: 'MQTT CONNECT refused: unknown username or wrong password' },
  CE_MQTT_ACL: { status: 403, message: 'Publish or subscribe outside the topics this client may use' },
  CE_TOPIC_UNKNOWN: { status: 404, message: 'The topic matches no configured device topic' },
  CE_DEVICE_UNKNOWN: { status: 404, message: 'The topic names a device that is not in the inventory' },
  CE_PAYLOAD_JSON: { status: 400, message: 'The payload is not valid JSON (UTF-8)' },
  CE_PAYLOAD_SCHEMA: { status: 400, message: "The payload does not match the device kind's telemetry schema" },
  CE_PAYLOAD_TOO_LARGE: { status: 413, message: 'The payload is larger than mqtt.maxPayloadBytes' },
  CE_PACKET_TOO_LARGE: { status: 413, message: 'An MQTT packet is larger than mqtt.maxPacketBytes; the connection is closed' },
  CE_RATE_LIMITED: { status: 429, message: 'The client publishes faster than its rate limit; excess messages are dropped' },
  CE_STATUS_INVALID: { status: 400, message: 'A status (online/offline) message has an unrecognised payload' },
  // --- store -----------------------------------------------------------------
  CE_STORE_WRITE: { status: 503, message: 'The local store could not commit; the message is not acknowledged' },
  CE_STORE_EVICTED: { status: 507, message: 'The store reached store.maxBytes; the oldest readings were evicted' },
  // --- live updates for the dashboard (gateway/api/live.ts) --------------------
  CE_LIVE_TOO_MANY_CLIENTS: { status: 503, message: 'Too many live-update streams are open (GET /api/events); retry later' },
  CE_LIVE_SLOW_CLIENT: { status: 503, message: 'A live-update client did not read its stream fast enough and was disconnected' },
  // --- serial Modbus RTU (gateway/inputs/modbus) ------------------------------
  CE_MODBUS_TIMEOUT: { status: 504, message: 'A Modbus slave did not answer within the bus timeoutMs' },
  CE_MODBUS_CRC: { status: 502, message: 'A Modbus RTU answer failed its CRC check' },
  CE_MODBUS_EXCEPTION: { status: 502, message: 'A Modbus slave answered with an exception response' },
  CE_MODBUS_FRAME: { status: 502, message: 'Bytes arrived on the bus but no valid Modbus answer (noise, short or garbled frame)' },
  CE_MODBUS_PORT: { status: 503, message: 'The serial port of a Modbus bus cannot be opened or was lost (USB adapter unplugged?)' },
  // --- probes (ICMP, TCP, HTTP(S), RTSP, LAN sweep: gateway/probes) ------------
  CE_PROBE_TIMEOUT: { status: 504, message: 'A probed device did not answer within the target timeoutMs' },
  CE_PROBE_REFUSED: { status: 502, message: 'A probed device refused the TCP connection (nothing listens on the port)' },
  CE_PROBE_UNREACHABLE: { status: 502, message: 'A probed host is unreachable (no route, name not resolved, connection reset)' },
  CE_PROBE_NO_ANSWER: { status: 504, message: 'A pinged host answered none of the ICMP echo requests' },
  CE_PROBE_TLS: { status: 502, message: 'The TLS handshake with a probed HTTPS device failed (certificate not trusted, protocol error)' },
  CE_PROBE_HTTP_STATUS: { status: 502, message: 'A probed URL answered with a status outside the target expectStatus' },
  CE_PROBE_KEYWORD_MISSING: { status: 502, message: 'The body of a probed URL does not contain the target keyword' },
  CE_PROBE_RTSP_STATUS: { status: 502, message: 'A camera answered RTSP with an error status (stream not available)' },
  CE_PROBE_AUTH: { status: 401, message: 'A probed device rejected the configured credentials' },
  CE_PROBE_PROTOCOL: { status: 502, message: 'A probed device answered with bytes that are not a valid response (garbage or oversize)' },
  CE_PROBE_MAC_MISMATCH: { status: 409, message: 'An office computer IP answers ARP with another MAC address than the inventory says' },
  CE_PROBE_TOOL_MISSING: { status: 500, message: 'fping is not installed or not executable; ICMP probes and the LAN sweep do not run' },
  CE_PROBE_CONFIG: { status: 500, message: 'A probe target cannot run because of gateway-side settings (CA file unreadable, password variable unset)' },
  CE_PROBE_OVERRUN: { status: 503, message: 'A probe round was skipped because the previous run of that target had not finished' },
  // --- SNMP probe (gateway/probes/snmp) ------------------------------------------
  CE_SNMP_TIMEOUT: { status: 504, message: 'The SNMP agent did not answer in time (with v2c, a wrong community looks the same: it is dropped silently)' },
  CE_SNMP_AUTH: { status: 401, message: 'The SNMP agent refused the SNMPv3 credentials or the access (usmStats report, authorizationError)' },
  CE_SNMP_RESPONSE: { status: 502, message: 'The SNMP agent answered with an error status (tooBig, genErr, ...) or an unusable response' },
  CE_SNMP_INTERFACE_UNKNOWN: { status: 404, message: 'A listed interface is not in the agent ifTable (by ifName, ifDescr, ifAlias or ifIndex)' },
  // --- OPC UA client (gateway/inputs/opcua) -------------------------------------
  CE_OPCUA_CONNECT: { status: 503, message: 'The OPC UA server cannot be reached, or the session or subscription cannot be opened; retried with backoff' },
  CE_OPCUA_SECURITY: { status: 502, message: 'OPC UA security refused: mode/policy not offered, certificate untrusted or changed' },
  CE_OPCUA_AUTH: { status: 401, message: 'The OPC UA server rejected the user identity (wrong user or password, or passwordEnv unset)' },
  CE_OPCUA_SESSION_LOST: { status: 503, message: 'The OPC UA session or subscription was lost (connection closed, keep-alives missing); reconnecting' },
  CE_OPCUA_NODE_REJECTED: { status: 404, message: 'The OPC UA server refused to monitor a configured node (BadNodeIdUnknown, ...)' },
  CE_OPCUA_BAD_VALUE: { status: 502, message: 'An OPC UA value was left out: Bad or Uncertain status, or a type that does not fit the field' },
  // --- infrastructure indicators (gateway/indicators) ----------------------------
  CE_PERIOD_INVALID: { status: 400, message: 'The period is not a valid id (2026-05-14, 2026-05, 2026-Q2, 2026-H1, 2026, 2026-01-01..2026-03-31)' },
  // --- half-year report (gateway/report) ----------------------------------------
  CE_REPORT_FONT: { status: 500, message: 'The PDF report font (Be Vietnam Pro, @expo-google-fonts/be-vietnam-pro) is not installed' },
  CE_REPORT_WRITE: { status: 500, message: 'The report file cannot be written (directory, permission or disk space)' },
  // --- IOC feed (gateway/uplink: outbox, delivery, MQTT uplink) ----------------
  CE_IOC_UNREACHABLE: { status: 503, message: 'The IOC receiver could not be reached (connection, DNS or TLS error); the message stays in the outbox and is retried' },
  CE_IOC_TIMEOUT: { status: 504, message: 'The IOC receiver gave no complete answer within ioc.timeoutMs; the message is retried' },
  CE_IOC_RETRYABLE_STATUS: { status: 503, message: 'The IOC receiver answered 408, 425, 429 or 5xx; the message is retried after a backoff (Retry-After honoured)' },
  CE_IOC_AUTH: { status: 401, message: 'The IOC receiver refused the token, the signature or the timestamp (401/403); messages are kept and retried, none is parked' },
  CE_IOC_ENDPOINT: { status: 502, message: 'The IOC receiver URL answers 404/405 or a redirect (wrong ioc.url); messages are kept and retried' },
  CE_IOC_PARKED: { status: 422, message: 'The IOC receiver rejected a message as invalid (4xx); it is parked with the reason and delivery goes on' },
  CE_IOC_OUTBOX_EVICTED: { status: 507, message: 'The IOC outbox reached its bound; the least valuable messages were evicted' },
  CE_IOC_INDICATORS_FAILED: { status: 500, message: 'Computing an indicator report for the IOC feed failed; the next schedule tries again' },
  CE_IOC_CONFIG: { status: 500, message: 'The IOC feed cannot send: a secret environment variable is unset or a TLS file is unreadable; messages stay in the outbox' },
  CE_IOC_MQTT: { status: 503, message: 'The MQTT uplink to the province broker is not connected (unreachable, TLS or credentials); it reconnects with backoff' },
  // --- IOC reference receiver (gateway/uplink/receiver.ts) ---------------------
  CE_IOC_TOKEN: { status: 401, message: 'The IOC receiver got no bearer token, or one it does not know' },
  CE_IOC_TIMESTAMP: { status: 401, message: 'X-CE-Timestamp is missing or outside the receiver clock-skew window (replay protection)' },
  CE_IOC_SIGNATURE: { status: 401, message: 'X-CE-Signature is missing or is not the HMAC-SHA256 of the timestamp and body with the commune key' },
  CE_IOC_COMMUNE_FORBIDDEN: { status: 403, message: 'The token is not valid for the commune named in the message' },
  CE_IOC_CONTENT_TYPE: { status: 415, message: 'The IOC receiver accepts application/json bodies, identity or gzip encoded' },
  CE_IOC_TOO_LARGE: { status: 413, message: 'The message (compressed or decompressed) is larger than the receiver maxBodyBytes' },
  CE_IOC_JSON: { status: 400, message: 'The message body is not valid JSON (UTF-8), or not valid gzip' },
  CE_IOC_SCHEMA: { status: 400, message: 'The message does not match the IOC feed envelope schema; the message names the path' },
  CE_IOC_IDEMPOTENCY_KEY: { status: 400, message: 'The Idempotency-Key header is missing or differs from the messageId of the body' },
  CE_IOC_IDEMPOTENCY_CONFLICT: { status: 422, message: 'A message with this messageId was stored with a different body' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message);
    this.code = code;
    this.status = ERRORS[code].status;
    this.detail = detail;
  }
}
