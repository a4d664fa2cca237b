/**
 * The part of net-snmp 3.x (pure-JS, CommonJS, ships no types) this probe uses,
 * typed from node_modules/net-snmp/README.md and index.js.
 */
declare module 'net-snmp' {
  import type { EventEmitter } from 'node:events';

  namespace snmp {
    /** Value types: Integer/Counter/Gauge/TimeTicks → number; OctetString/Opaque/Counter64 → Buffer; OID/IpAddress → string; noSuchObject, noSuchInstance, endOfMibView → null. */
    interface Varbind {
      oid: string;
      type: number;
      value: unknown;
    }

    interface SessionOptions {
      port?: number;
      retries?: number;
      timeout?: number;
      backoff?: number;
      transport?: 'udp4' | 'udp6';
      version?: number;
      idBitsSize?: 16 | 32;
      context?: string;
      backwardsGetNexts?: boolean;
      reportOidMismatchErrors?: boolean;
    }

    interface User {
      name: string;
      level: number;
      authProtocol?: number;
      authKey?: string;
      privProtocol?: number;
      privKey?: string;
    }

    interface Session extends EventEmitter {
      get(oids: string[], callback: (error: Error | null, varbinds?: Varbind[]) => void): Session;
      subtree(
        oid: string,
        maxRepetitions: number,
        feedCallback: (varbinds: Varbind[]) => boolean | void,
        doneCallback: (error: Error | null) => void,
      ): Session;
      close(): Session;
    }

    const Version1: number;
    const Version2c: number;
    const Version3: number;
    const SecurityLevel: { noAuthNoPriv: number; authNoPriv: number; authPriv: number };
    const AuthProtocols: Record<'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512', number>;
    const PrivProtocols: Record<'des' | 'aes' | 'aes256b' | 'aes256r', number>;
    const ObjectType: Record<string, number>;
    const ErrorStatus: Record<string, number | string>;
    const ResponseInvalidCode: Record<string, number | string>;

    function createSession(target: string, community: string, options?: SessionOptions): Session;
    function createV3Session(target: string, user: User, options?: SessionOptions): Session;
    function isVarbindError(varbind: Varbind): boolean;
    function varbindError(varbind: Varbind): string;

    class RequestTimedOutError extends Error {
      constructor(message: string);
    }
    class RequestFailedError extends Error {
      constructor(message: string, status: number);
      status: number;
    }
    class RequestInvalidError extends Error {
      constructor(message: string);
    }
    class ResponseInvalidError extends Error {
      constructor(message: string, code: number, info?: unknown);
      code: number;
      info?: unknown;
    }
  }

  export = snmp;
}
