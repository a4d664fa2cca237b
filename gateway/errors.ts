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
