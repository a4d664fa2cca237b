/**
 * The string form of an OPC UA NodeId (OPC UA Part 6 §5.3.1.10), checked without
 * node-opcua so that settings validation stays light:
 *
 *   ns=<namespaceindex>;<type>=<value>      (ns= omitted for namespace 0)
 *   nsu=<namespaceuri>;<type>=<value>       (the ExpandedNodeId form, Part 6 §5.3.1.11)
 *
 * with <type> one of i (UInt32), s (String), g (Guid), b (ByteString, base64).
 * The `nsu=` form survives a PLC that renumbers its namespaces (a firmware update,
 * another server module): the gateway looks the URI up in the server's
 * NamespaceArray at each connection.
 */

export type NodeIdNamespace = { index: number } | { uri: string };

export interface ParsedNodeId {
  namespace: NodeIdNamespace;
  type: 'i' | 's' | 'g' | 'b';
  /** The identifier text as written after `<type>=`. */
  identifier: string;
}

export type NodeIdParse = { ok: true; nodeId: ParsedNodeId } | { ok: false; reason: string };

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UINT32_MAX = 4_294_967_295;
const UINT16_MAX = 65_535;
/** A string identifier is at most 4096 characters (Part 3 §8.2.4, NodeId identifier of type String). */
const MAX_STRING_ID = 4096;

export const NODE_ID_EXAMPLES = 'e.g. ns=3;s="PumpStation1"."Pump"."Running", ns=2;i=1001, nsu=http://www.siemens.com/simatic-s7-opcua;s="DB1"."Flow"';

export function parseNodeId(text: string): NodeIdParse {
  const bad = (reason: string): NodeIdParse => ({ ok: false, reason });
  if (text.trim() !== text) return bad('has leading or trailing spaces');
  let rest = text;
  let namespace: NodeIdNamespace = { index: 0 };
  if (rest.startsWith('svr=')) return bad('a server index (svr=) points to another server; use a node of this server');
  if (rest.startsWith('ns=')) {
    const semi = rest.indexOf(';');
    if (semi < 0) return bad('"ns=<index>" must be followed by ";<type>=<value>"');
    const ns = rest.slice(3, semi);
    if (!/^\d{1,5}$/.test(ns) || Number(ns) > UINT16_MAX) return bad(`namespace index "${ns}" is not a number 0..65535`);
    namespace = { index: Number(ns) };
    rest = rest.slice(semi + 1);
  } else if (rest.startsWith('nsu=')) {
    // Part 6 §5.3.1.11: a ";" inside the URI is escaped as %3B, so the first ";" ends it.
    const semi = rest.indexOf(';');
    if (semi < 0) return bad('"nsu=<uri>" must be followed by ";<type>=<value>"');
    const uri = rest.slice(4, semi);
    if (uri === '') return bad('empty namespace URI after "nsu="');
    namespace = { uri: decodeURIComponentSafe(uri) };
    rest = rest.slice(semi + 1);
  }
  const m = /^([isgb])=([\s\S]*)$/.exec(rest);
  if (!m) return bad(`expected "i=", "s=", "g=" or "b=" after the namespace, got "${rest.slice(0, 12)}"`);
  const type = m[1] as ParsedNodeId['type'];
  const identifier = m[2]!;
  switch (type) {
    case 'i':
      if (!/^\d{1,10}$/.test(identifier) || Number(identifier) > UINT32_MAX) return bad(`numeric identifier "${identifier}" is not a UInt32`);
      break;
    case 's':
      if (identifier === '') return bad('empty string identifier');
      if (identifier.length > MAX_STRING_ID) return bad(`string identifier longer than ${MAX_STRING_ID} characters`);
      break;
    case 'g':
      if (!GUID.test(identifier)) return bad(`"${identifier}" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
      break;
    case 'b':
      if (identifier === '' || !BASE64.test(identifier)) return bad('opaque identifier after "b=" must be base64');
      break;
  }
  return { ok: true, nodeId: { namespace, type, identifier } };
}

/** The `ns=<index>;...` text for a parsed node id once its namespace index is known. */
export function nodeIdWithIndex(node: ParsedNodeId, index: number): string {
  return index === 0 ? `${node.type}=${node.identifier}` : `ns=${index};${node.type}=${node.identifier}`;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
