/**
 * Bounds the size of every MQTT packet *before* it is buffered.
 *
 * mqtt-packet (the parser aedes uses) accumulates a whole packet before parsing
 * it, and MQTT 3.1.1 §2.2.3 allows a Remaining Length of up to 268,435,455
 * bytes, so one client (even before its CONNECT is authenticated) could make
 * the broker hold 256 MB. The parser reads the fixed header's Remaining Length
 * first (its `_parseLength` state); we check the declared length right there
 * and close the connection when it exceeds the limit.
 *
 * This hooks one method of the parser instance aedes created for the
 * connection. It is internal to mqtt-packet, so `limitPacketSize` verifies the
 * shape it relies on and throws at start (not silently) if a new mqtt-packet
 * changes it; test/gateway.test.ts sends a 10 MB header to prove the guard.
 * (A stream wrapper in front of aedes did the same job but cost a Duplex per
 * connection and a stream hop per chunk.)
 */
export interface ParserInternals {
  _parseLength(): boolean;
  packet: { length: number };
}

export function limitPacketSize(parser: ParserInternals, maxBytes: number, onOversize: (declaredBytes: number) => void): void {
  const parseLength = parser._parseLength;
  if (typeof parseLength !== 'function' || typeof parser.packet !== 'object') {
    throw new Error('mqtt-packet parser internals changed: cannot enforce mqtt.maxPacketBytes (see gateway/inputs/packet-guard.ts)');
  }
  parser._parseLength = function guardedParseLength(this: ParserInternals): boolean {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      onOversize(this.packet.length);
      return false; // stop parsing; the connection is being closed
    }
    return complete;
  };
}
