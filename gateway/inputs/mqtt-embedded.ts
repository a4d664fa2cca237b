/**
 * The embedded MQTT broker (aedes): the default input.
 *
 * Everything a device sends is judged in aedes' hooks, before aedes acknowledges,
 * stores or forwards it (as aedes itself rejects a bad topic before any side
 * effect):
 * - `authenticate`: per-device (or per-bridge) username and scrypt password.
 * - `authorizePublish`: topic ACL, per-client rate limit, then the pipeline. For
 *   QoS 1 aedes writes the PUBACK only after this hook calls back (aedes
 *   lib/handlers/publish.js), and we call back only after the group commit, so a
 *   PUBACK means "on disk" (MQTT 3.1.1 §4.3.2: the receiver takes ownership).
 * - A payload that fails validation is acknowledged and dropped (counted): MQTT
 *   3.1.1 §3.3.5 [MQTT-3.3.5-2] lets a server that refuses a PUBLISH either ack it
 *   positively or close the connection, and closing would make the device resend
 *   the same bad message forever. A publish outside the ACL closes the
 *   connection, which is aedes' behaviour for a refused publish.
 * - `authorizeForward` keeps dropped messages from reaching subscribers.
 */
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { WebSocketServer } from 'ws';
import type { GatewayContext, Source, SourceStatus } from '../context.js';
import { PasswordVerifier } from '../credentials.js';
import type { ErrorCode } from '../errors.js';
import { limitPacketSize, type ParserInternals } from './packet-guard.js';
import mqttPacket from 'mqtt-packet';

// mqtt-packet pre-generates a Buffer for each of the 65,536 packet ids the first
// time it writes one (~8 MB of heap, measured in a heap snapshot of the gateway
// under bench/ingest.ts). Allocating the two bytes per PUBACK costs nothing
// measurable; on a Pi the memory matters more.
mqttPacket.writeToStream.cacheNumbers = false;

/** The authenticated username, set on the aedes client by `authenticate`. */
const USERNAME = Symbol('commune-edge.username');
type AuthedClient = Client & { [USERNAME]?: string };

/** aedes AuthErrorCode (CONNACK return codes, MQTT 3.1.1 §3.2.2.3). */
const BAD_USERNAME_OR_PASSWORD = 4;
/** MQTT 3.1.1 §3.2.2.3: "Server unavailable". */
const SERVER_UNAVAILABLE = 3;

interface Bucket {
  tokens: number;
  at: number;
}

export interface EmbeddedBrokerOptions {
  /** Override the listen ports (0 = any free port; tests). */
  port?: number;
}

export class EmbeddedBroker implements Source {
  readonly name = 'mqtt-embedded';
  private ctx!: GatewayContext;
  private broker!: Aedes;
  private servers: (NetServer | TlsServer | HttpServer)[] = [];
  private wss: WebSocketServer | null = null;
  private readonly buckets = new Map<string, Bucket>();
  /** sha256(username, password) of recent successful logins: reconnect storms after a power cut cost no scrypt. */
  private readonly verified = new Map<string, string>();
  /** scrypt checks one at a time: a reconnect storm costs 16 MiB, not 64 (credentials.ts). */
  private readonly verifier = new PasswordVerifier(1);
  private readonly sockets = new Set<Socket>();
  /** Payloads of messages acknowledged but dropped (weak: gone with the packet). */
  private readonly dropped = new WeakSet<object>();
  /** Actual bound ports, after start. */
  readonly ports: { mqtt?: number; tls?: number; ws?: number } = {};

  async start(ctx: GatewayContext): Promise<void> {
    this.ctx = ctx;
    const { mqtt } = ctx.settings;
    this.broker = await Aedes.createBroker({
      id: `commune-edge-${ctx.settings.gateway.id}`,
      authenticate: (client, username, password, cb) => this.authenticate(client, username, password, cb),
      authorizePublish: (client, packet, cb) => this.authorizePublish(client, packet, cb),
      authorizeSubscribe: (client, sub, cb) => this.authorizeSubscribe(client, sub, cb),
      // aedes forwards a copy of the packet that shares the payload Buffer: mark that.
      authorizeForward: (_client, packet) => (this.dropped.has(packet.payload as Buffer) ? null : packet),
    });
    this.broker.on('clientDisconnect', (client) => this.buckets.delete(client.id));
    this.broker.on('clientError', (client, err) => {
      ctx.log.debug({ client: client?.id, err: err.message }, 'mqtt client error');
    });
    this.broker.on('connectionError', (client, err) => {
      ctx.log.debug({ client: client?.id, err: err.message }, 'mqtt connection error');
    });

    const handle = (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      const client = this.broker.handle(socket) as unknown as { _parser: ParserInternals };
      limitPacketSize(client._parser, mqtt.maxPacketBytes, (declared) => {
        ctx.pipeline.reject('CE_PACKET_TOO_LARGE', `${declared} bytes > mqtt.maxPacketBytes ${mqtt.maxPacketBytes} from ${socket.remoteAddress}`, {
          client: socket.remoteAddress ?? null,
          topic: null,
        });
        socket.destroy();
      });
    };

    const tcp = createNetServer(handle);
    this.ports.mqtt = await listen(tcp, mqtt.port, mqtt.host);
    this.servers.push(tcp);
    if (mqtt.tls) {
      const tls = createTlsServer(
        {
          cert: readFileSync(mqtt.tls.certFile),
          key: readFileSync(mqtt.tls.keyFile),
          ...(mqtt.tls.caFile ? { ca: readFileSync(mqtt.tls.caFile), requestCert: true, rejectUnauthorized: true } : {}),
        },
        handle,
      );
      this.ports.tls = await listen(tls, mqtt.tls.port, mqtt.host);
      this.servers.push(tls);
    }
    if (mqtt.websocket) {
      // Loaded only when a WebSocket listener is configured (Pi footprint, test/footprint.test.ts).
      const { WebSocketServer, createWebSocketStream } = await import('ws');
      const http = createHttpServer();
      this.wss = new WebSocketServer({ server: http, maxPayload: mqtt.maxPacketBytes });
      this.wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        this.broker.handle(stream as unknown as Socket, req);
      });
      this.ports.ws = await listen(http, mqtt.websocket.port, mqtt.host);
      this.servers.push(http);
    }
    ctx.log.info({ ...this.ports, host: mqtt.host }, 'embedded MQTT broker listening');
  }

  status(): SourceStatus {
    return { name: this.name, connected: !!this.broker && !this.broker.closed, clients: this.broker?.connectedClients ?? 0 };
  }

  get clients(): number {
    return this.broker?.connectedClients ?? 0;
  }

  async stop(): Promise<void> {
    for (const s of this.servers) s.close();
    this.wss?.close();
    for (const s of this.sockets) s.destroy();
    if (this.broker) await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    this.servers = [];
  }

  private authenticate(
    client: Client,
    username: Readonly<string> | undefined,
    password: Readonly<Buffer> | undefined,
    cb: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const refuse = (detail: string) => {
      this.ctx.pipeline.reject('CE_MQTT_AUTH', detail, { client: username ?? client.id, topic: null });
      const err = new Error('bad username or password') as AuthenticateError;
      err.returnCode = BAD_USERNAME_OR_PASSWORD;
      cb(err, false);
    };
    if (!username || !password) return refuse(`client ${client.id} connected without username/password`);
    const cred = this.ctx.inventory.credentials.get(username);
    if (!cred) return refuse(`unknown username "${username}"`);
    const fingerprint = createHash('sha256').update(username).update('\0').update(password).digest('base64');
    const accept = () => {
      (client as AuthedClient)[USERNAME] = username;
      cb(null, true);
    };
    if (this.verified.get(username) === fingerprint) return accept();
    this.verifier.verify(password, cred.passwordHash, () => !client.closed).then((ok) => {
      if (ok === null) {
        // The client hung up while its check waited in line: nothing to answer, nothing to count.
        const err = new Error('client closed before its password check') as AuthenticateError;
        err.returnCode = SERVER_UNAVAILABLE;
        return cb(err, false);
      }
      if (!ok) return refuse(`wrong password for "${username}"`);
      this.verified.set(username, fingerprint);
      accept();
    });
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (error?: Error | null) => void): void {
    // The broker's own publishes ($SYS) and the will of a client that is gone
    // still come here; only client publishes are device input.
    if (!client) return cb(null);
    const username = usernameOf(client);
    const cred = username ? this.ctx.inventory.credentials.get(username) : undefined;
    if (!cred || !cred.publishTopics.has(packet.topic)) {
      this.ctx.pipeline.reject('CE_MQTT_ACL', `"${username}" may not publish to ${packet.topic}`, { client: username ?? client.id, topic: packet.topic });
      return cb(new Error(`not authorised to publish to ${packet.topic}`));
    }
    if (!this.takeToken(client.id)) {
      return this.drop(packet, cb, 'CE_RATE_LIMITED', `${username} exceeds ${this.ctx.settings.mqtt.rateLimit.msgsPerS} msgs/s`, username);
    }
    this.ctx.pipeline.ingest(
      { topic: packet.topic, payload: packet.payload as Buffer, client: username ?? client.id, transport: 'mqtt' },
      (outcome) => {
        if (outcome.accepted) return cb(null);
        // Not committed: no PUBACK; closing makes the client resend after reconnect.
        if (outcome.retryable) return cb(new Error(outcome.detail));
        this.markDropped(packet);
        cb(null);
      },
    );
  }

  private drop(packet: PublishPacket, cb: (error?: Error | null) => void, code: ErrorCode, detail: string, client: string | undefined): void {
    this.ctx.pipeline.reject(code, detail, { client: client ?? null, topic: packet.topic });
    this.markDropped(packet);
    cb(null);
  }

  private markDropped(packet: PublishPacket): void {
    this.dropped.add(packet.payload as Buffer);
    packet.retain = false; // a dropped message must not become retained state
  }

  private authorizeSubscribe(client: Client | null, sub: Subscription, cb: (error: Error | null, subscription?: Subscription | null) => void): void {
    if (!client) return cb(null, sub);
    const username = usernameOf(client);
    const cred = username ? this.ctx.inventory.credentials.get(username) : undefined;
    if (cred && cred.namespaces.some((ns) => sub.topic.startsWith(ns))) return cb(null, sub);
    this.ctx.pipeline.reject('CE_MQTT_ACL', `"${username}" may not subscribe to ${sub.topic}`, { client: username ?? client.id, topic: sub.topic });
    // null negates this subscription only (SUBACK 0x80, MQTT 3.1.1 §3.9.3), the connection stays.
    cb(null, null);
  }

  /** Token bucket per client (topic floods from one client must not starve the rest). */
  private takeToken(clientId: string): boolean {
    const { msgsPerS, burst } = this.ctx.settings.mqtt.rateLimit;
    const now = this.ctx.clock.now();
    let b = this.buckets.get(clientId);
    if (!b) {
      b = { tokens: burst, at: now };
      this.buckets.set(clientId, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * msgsPerS);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function usernameOf(client: Client): string | undefined {
  return (client as AuthedClient)[USERNAME];
}

function listen(server: NetServer | TlsServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}
