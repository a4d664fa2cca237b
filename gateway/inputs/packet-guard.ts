/**
 * Bounds the size of every MQTT packet *before* it is buffered.
 *
 * mqtt-packet (used by aedes) accumulates a whole packet before parsing it, and
 * MQTT 3.1.1 §2.2.3 allows a Remaining Length of up to 268,435,455 bytes, so one
 * client (even before CONNECT is authenticated) could make the broker hold
 * 256 MB. This duplex sits between the socket and aedes, reads each fixed
 * header's Remaining Length (the variable-length encoding of §2.2.3) and closes
 * the connection when a packet would exceed the limit. Bodies are skipped in
 * bulk, so the cost is a few operations per packet, not per byte.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class PacketSizeGuard extends Duplex {
  private readonly socket: Socket;
  private readonly maxBytes: number;
  private readonly onOversize: (declaredBytes: number) => void;
  private remaining = 0;
  private header: number[] = [];

  constructor(socket: Socket, maxBytes: number, onOversize: (declaredBytes: number) => void) {
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.maxBytes = maxBytes;
    this.onOversize = onOversize;
    socket.on('data', (chunk: Buffer) => {
      if (!this.inspect(chunk)) return;
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    socket.on('drain', () => this.emit('socketDrain'));
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** Returns false (and closes) when a packet is too large or malformed. */
  private inspect(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.remaining -= n;
        i += n;
        continue;
      }
      const b = chunk[i++]!;
      this.header.push(b);
      if (this.header.length === 1) continue; // packet type and flags
      if (b & 0x80) {
        if (this.header.length >= 5) return this.reject(-1); // §2.2.3: at most four length bytes
        continue;
      }
      let length = 0;
      let multiplier = 1;
      for (let k = 1; k < this.header.length; k++) {
        length += (this.header[k]! & 0x7f) * multiplier;
        multiplier *= 128;
      }
      if (length + this.header.length > this.maxBytes) return this.reject(length + this.header.length);
      this.remaining = length;
      this.header = [];
    }
    return true;
  }

  private reject(declared: number): boolean {
    this.onOversize(declared);
    this.socket.destroy();
    this.destroy();
    return false;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  /**
   * aedes corks the stream around bursts of PUBACKs; without _writev each 4-byte
   * PUBACK became its own write() system call (half the gateway's CPU at full
   * QoS 1 load, measured with bench/ingest.ts). Cork the socket for the batch.
   */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.socket.cork();
    let ok = true;
    for (const { chunk } of chunks) ok = this.socket.write(chunk);
    this.socket.uncork();
    if (ok) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
