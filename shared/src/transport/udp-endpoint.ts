import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { TaskmeshError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { Message, Outgoing } from '../protocol.js';
import { CHUNK_WINDOW_BYTES, MAX_CHUNK_PAYLOAD, MAX_MESSAGE_BYTES, MAX_NACK_INDICES, SOCKET_BUFFER_BYTES } from './constants.js';
import { DatagramReader } from './datagram-reader.js';
import { DropCounter } from './drop-counter.js';
import { addressKey, copyStats, emptyStats, type Address, type EndpointStats } from './endpoint-stats.js';
import {
  ENDPOINT_ID_BYTES,
  FRAME_TYPE,
  FrameCodec,
  NACK_COMPLETE,
  decodeNackPayload,
  encodeNackPayload,
  type Frame,
  type FrameType,
} from './frame.js';
import { decodePayload, encodeMessage, packMessages } from './message-codec.js';
import { ChunkPacer } from './chunk-pacer.js';
import { Coalescer, datagramPayloadLimit, type Queued } from './coalescer.js';
import { Outbox } from './outbox.js';
import { PeerIds } from './peer-ids.js';
import { Reassembler } from './reassembler.js';

/**
 * The socket's address lookup: an address (every registered worker and caller is one, as a rule)
 * is its own answer at once, where Node's lookup answers on the next tick. So a send leaves inside
 * the call, before anything that holds the thread afterwards (a synchronous handler); a host name
 * is looked up as usual.
 */
function lookupNow(
  hostname: string,
  options: LookupOneOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const family = isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, options, callback);
}

export interface UdpEndpointOptions {
  /** TASKMESH_SECRET, or the frame key derived from it (frameKey): the HMAC-SHA256 key of every frame. */
  secret: string | Buffer;
  /** Bind address, default '0.0.0.0'. */
  host?: string;
  /** Default 0. */
  port?: number;
  logger?: Logger;
  /** Default MAX_MESSAGE_BYTES (4 MiB). */
  maxMessageBytes?: number;
  /**
   * Puts something between the endpoint and its socket's send (fault injection in tests: a lossy
   * send drops what it picks). Default: the socket's own.
   */
  wrapSend?: (send: DatagramSend) => DatagramSend;
  /** Drops a received datagram before it is read when this says so (the chaos controls' loss). */
  dropIncoming?: (host: string, port: number) => boolean;
}

/** How a datagram leaves: `dgram.Socket#send`'s shape. */
export type DatagramSend = (datagram: Buffer, port: number, host: string, done: (err: Error | null) => void) => void;

/** Where a message came from: the address and the sender's endpoint id (hex, authenticated with the frame). */
export type MessageListener = (message: Message, from: Address & { id: string }) => void;

/** How a message is sent. */
export interface SendOptions {
  /**
   * For a message that needs several chunks: send only its first one. The receiver asks for the
   * rest (a NACK), so a live peer gets the whole message one round trip later, and a peer that
   * never answers costs one chunk instead of the whole message.
   */
  probe?: boolean;
}

const MESSAGE_ID_LIMIT = 0xffffffff;
/** The frame counter is 48 bits: at a million frames a second it would last nine years. */
const COUNTER_LIMIT = 2 ** 48 - 1;
/** close() waits at most this long for queued sends to leave. */
const CLOSE_SEND_GRACE_MS = 500;

/**
 * The flow-control window toward a peer: CHUNK_WINDOW_BYTES, or half this socket's receive buffer
 * when the kernel granted less (the peer runs the same code, and was granted about the same).
 */
function chunkWindowBytes(socket: dgram.Socket): number {
  try {
    return Math.max(MAX_CHUNK_PAYLOAD * 4, Math.min(CHUNK_WINDOW_BYTES, Math.floor(socket.getRecvBufferSize() / 2)));
  } catch {
    return CHUNK_WINDOW_BYTES;
  }
}

/**
 * One authenticated UDP socket. Outgoing messages to one address in the same event-loop turn
 * share a datagram; a message too large for one datagram travels as chunks that the receiver
 * reassembles, NACKing missing ones. Every incoming datagram is authenticated, replay-checked and
 * schema-checked; anything that fails is dropped and counted, never thrown.
 */
export class UdpEndpoint {
  /** The bound address, with this endpoint's id: what a peer needs to send it frames. */
  readonly address: Address & { id: string };
  /** This endpoint's id (8 random bytes, hex), the receiver id its peers sign into their frames. */
  readonly id: string;
  private readonly codec: FrameCodec;
  private readonly reader: DatagramReader;
  private readonly reassembler: Reassembler;
  private readonly outbox = new Outbox();
  private readonly counters = emptyStats();
  private readonly drops: DropCounter;
  private readonly logger: Logger;
  private readonly maxMessageBytes: number;
  private readonly maxChunks: number;
  private readonly sendDatagram: DatagramSend;
  private readonly dropIncoming: ((host: string, port: number) => boolean) | undefined;
  private listeners: MessageListener[] = [];
  private flushHooks: (() => void)[] = [];
  private readonly coalescer = new Coalescer(
    {
      datagram: (to, receiver, payload) => this.sendData(to, receiver, this.nextMessageId(), 0, 1, payload),
      large: (to, receiver, item) => this.sendLarge(to, receiver, item),
    },
    datagramPayloadLimit,
  );
  private flushScheduled = false;
  private readonly pacer: ChunkPacer;
  private readonly sender = randomBytes(ENDPOINT_ID_BYTES);
  private readonly peers = new PeerIds();
  private counter = 0;
  private messageId = 0;
  private closing: Promise<void> | undefined;
  private sendsPending = 0;
  private onSendsDone: (() => void) | undefined;

  /** Binds a socket and resolves once it listens. */
  static open(options: UdpEndpointOptions): Promise<UdpEndpoint> {
    const host = options.host ?? '0.0.0.0';
    const socket = dgram.createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: lookupNow });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(new TaskmeshError('UNAVAILABLE', `cannot bind UDP ${host}:${options.port ?? 0}: ${err.message}`, { cause: err }));
      socket.once('error', onError);
      socket.bind({ address: host, port: options.port ?? 0 }, () => {
        socket.off('error', onError);
        resolve(new UdpEndpoint(socket, options));
      });
    });
  }

  private constructor(
    private readonly socket: dgram.Socket,
    options: UdpEndpointOptions,
  ) {
    this.logger = options.logger ?? silentLogger();
    this.codec = new FrameCodec(options.secret);
    this.reader = new DatagramReader(this.codec, this.sender);
    this.drops = new DropCounter(this.counters, this.logger);
    this.maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    // The whole array "[message]" is chunked, hence the 2 bytes.
    this.maxChunks = Math.ceil((this.maxMessageBytes + 2) / MAX_CHUNK_PAYLOAD);
    const socketSend: DatagramSend = (datagram, port, host, done) => socket.send(datagram, port, host, done);
    this.sendDatagram = options.wrapSend?.(socketSend) ?? socketSend;
    this.dropIncoming = options.dropIncoming;
    this.reassembler = new Reassembler({
      sendNack: (to, messageId, missing) => this.sendNack(to, messageId, missing),
      onAbandon: (detail, from) => this.drops.drop('reassembly', detail, from),
    });
    const bound = socket.address();
    this.id = this.sender.toString('hex');
    this.address = { host: bound.address, port: bound.port, id: this.id };
    for (const set of [() => socket.setRecvBufferSize(SOCKET_BUFFER_BYTES), () => socket.setSendBufferSize(SOCKET_BUFFER_BYTES)]) {
      try {
        set();
      } catch (err) {
        this.logger.debug('socket buffer size not applied', { error: (err as Error).message });
      }
    }
    this.pacer = new ChunkPacer((job, index, chunk) => this.sendData(job.to, job.receiver, job.messageId, index, job.chunkCount, chunk), {
      windowBytes: chunkWindowBytes(socket),
    });
    socket.on('message', this.onDatagram);
    socket.on('error', (err) => this.logger.warn('UDP socket error', { error: err.message }));
  }

  /**
   * Queues a message; messages to one address in the same tick share a datagram. Throws
   * TaskmeshError PAYLOAD_TOO_LARGE if the encoded message exceeds maxMessageBytes, and
   * INVALID_PAYLOAD if it cannot be serialised.
   */
  send(message: Outgoing, to: Address, options?: SendOptions): number {
    if (this.closing !== undefined) {
      this.logger.debug('send after close ignored', { kind: message.kind });
      return 0;
    }
    const json = encodeMessage(message);
    const bytes = Buffer.byteLength(json, 'utf8');
    if (bytes > this.maxMessageBytes) {
      throw new TaskmeshError(
        'PAYLOAD_TOO_LARGE',
        `a ${message.kind} message of ${bytes} bytes exceeds the transport limit of ${this.maxMessageBytes} bytes`,
        { details: { bytes, limit: this.maxMessageBytes } },
      );
    }
    this.counters.messagesSent++;
    this.coalescer.add(to, this.peers.receiverOf, { json, bytes, probe: options?.probe === true });
    this.requestFlush();
    return bytes;
  }

  /**
   * Registers `hook` to run at the start of every flush, before the turn's messages are packed:
   * a layer can add messages that sum up the turn (cumulative acknowledgements). Returns the
   * unregister function.
   */
  beforeFlush(hook: () => void): () => void {
    this.flushHooks = [...this.flushHooks, hook];
    return () => {
      this.flushHooks = this.flushHooks.filter((h) => h !== hook);
    };
  }

  /** Makes sure a flush runs at the end of this turn, so `beforeFlush` hooks get to send. */
  requestFlush(): void {
    if (this.flushScheduled || this.closing !== undefined) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  /** Sends what this turn queued now instead of at its end (before the thread is held for long). */
  flushNow(): void {
    if (this.flushScheduled && this.closing === undefined) this.flush();
  }

  /** Subscribes to every valid incoming message; returns the unsubscribe function. */
  onMessage(listener: MessageListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /**
   * Whether large messages to `to` are still leaving (queued in the pacer, or sent and not yet
   * confirmed): a layer above waiting for an answer to one does not resend it meanwhile.
   */
  delivering(to: Address): boolean {
    return this.pacer.busyWith(to);
  }

  /** Counts retransmissions done by the layers above (task, result, cancel). */
  noteRetransmit(count = 1): void {
    this.counters.retransmitted += count;
  }

  stats(): EndpointStats {
    return copyStats(this.counters);
  }

  /** Sends what is queued, then closes the socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.flush();
      this.pacer.stop();
      this.reassembler.close();
      this.outbox.clear();
      this.listeners = [];
      const closeSocket = (): void => {
        clearTimeout(giveUp);
        this.onSendsDone = undefined;
        try {
          this.socket.close(() => resolve());
        } catch {
          resolve();
        }
      };
      // Sends resolve the address asynchronously: let the last ones (result-acks...) leave first.
      const giveUp = setTimeout(closeSocket, CLOSE_SEND_GRACE_MS);
      if (this.sendsPending === 0) closeSocket();
      else this.onSendsDone = closeSocket;
    });
    return this.closing;
  }

  // ---- sending ----

  private readonly flush = (): void => {
    for (const hook of this.flushHooks) {
      try {
        hook();
      } catch (err) {
        this.logger.error('flush hook failed', { error: (err as Error).message });
      }
    }
    this.flushScheduled = false;
    this.coalescer.flush();
  };

  /**
   * A message too large for one datagram on its path: sent alone, in chunks as large as the path
   * carries (datagramPayloadLimit: 16 KiB on loopback, MAX_CHUNK_PAYLOAD elsewhere). The receiver
   * puts chunks back together by index, whatever their size.
   */
  private sendLarge(to: Address, receiver: Buffer, item: Queued): void {
    const payload = Buffer.from(packMessages([item.json]), 'utf8');
    const chunkSize = datagramPayloadLimit(to);
    const chunkCount = Math.ceil(payload.length / chunkSize);
    const messageId = this.nextMessageId();
    this.outbox.put(messageId, { to, receiver, payload, chunkCount, chunkSize });
    const indices = item.probe ? [0] : Array.from({ length: chunkCount }, (_, i) => i);
    this.pacer.queue({ to, receiver, messageId, payload, chunkCount, chunkSize, indices, next: 0 });
  }

  private sendNack(to: Address, messageId: number, missing: number[]): void {
    this.sendFrame(to, this.peers.receiverOf(to), FRAME_TYPE.nack, messageId, 0, 0, encodeNackPayload(missing));
  }

  private sendData(to: Address, receiver: Buffer, messageId: number, chunkIndex: number, chunkCount: number, payload: Buffer): void {
    this.sendFrame(to, receiver, FRAME_TYPE.data, messageId, chunkIndex, chunkCount, payload);
  }

  private sendFrame(
    to: Address,
    receiver: Buffer,
    type: FrameType,
    messageId: number,
    chunkIndex: number,
    chunkCount: number,
    payload: Buffer,
  ): void {
    // Never reached in practice (see COUNTER_LIMIT); refusing beats reusing a (sender, counter) pair.
    if (this.counter >= COUNTER_LIMIT) return;
    const datagram = this.codec.encode(
      { type, timestampMs: Date.now(), sender: this.sender, receiver, counter: this.counter++, messageId, chunkIndex, chunkCount },
      payload,
    );
    this.counters.datagramsSent++;
    this.sendsPending++;
    try {
      this.sendDatagram(datagram, to.port, to.host, this.onSent);
    } catch (err) {
      // e.g. the socket closed under a late timer: a lost datagram, not a crash.
      this.onSent(err as Error);
    }
  }

  private readonly onSent = (err: Error | null): void => {
    this.sendsPending--;
    if (err !== null) this.logger.debug('UDP send failed', { error: err.message });
    if (this.sendsPending === 0) this.onSendsDone?.();
  };

  private nextMessageId(): number {
    this.messageId = (this.messageId + 1) % MESSAGE_ID_LIMIT;
    return this.messageId;
  }

  // ---- receiving ----

  private readonly onDatagram = (datagram: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.closing !== undefined) return; // closing: nothing may be answered any more
    if (this.dropIncoming?.(rinfo.address, rinfo.port) === true) return;
    this.counters.datagramsReceived++;
    const from: Address = { host: rinfo.address, port: rinfo.port };
    try {
      this.receive(datagram, from);
    } catch (err) {
      // Nothing received may take the process down; a bug here is counted like bad input.
      this.drops.drop('malformed', `receive failed: ${(err as Error).message}`, from);
    }
  };

  private receive(datagram: Buffer, from: Address): void {
    const read = this.reader.read(datagram, Date.now());
    if (!read.ok) {
      this.drops.drop(read.reason, read.detail, from);
      return;
    }
    const { frame } = read;
    this.peers.learn(from, frame.sender);
    if (frame.type === FRAME_TYPE.nack) {
      this.answerNack(frame, from);
      return;
    }
    let payload: Buffer | undefined = frame.payload;
    if (frame.chunkCount > 1) {
      if (frame.chunkCount > this.maxChunks) {
        this.drops.drop('size', `${frame.chunkCount} chunks exceed the limit of ${this.maxChunks}`, from);
        return;
      }
      // Every chunk but the last is as large as the sender's chunks: one of them tells the least
      // the whole message weighs, so one over the limit is refused before it is put together.
      const atLeast = (frame.chunkCount - 1) * frame.payload.length;
      if (frame.chunkIndex < frame.chunkCount - 1 && atLeast > this.maxMessageBytes + 2) {
        this.reassembler.refuse(frame);
        this.drops.drop('size', `a message of at least ${atLeast} bytes exceeds the limit of ${this.maxMessageBytes}`, from);
        return;
      }
      payload = this.reassembler.add(frame, from);
      if (payload === undefined) return;
      // Whole: tells the sender, whose window it frees (see ChunkPacer).
      this.sendNack(from, frame.messageId, [NACK_COMPLETE]);
    }
    const decoded = decodePayload(payload);
    if (!decoded.ok) {
      this.drops.drop(decoded.reason, decoded.detail, from);
      return;
    }
    for (const failure of decoded.failures) this.drops.drop(failure.reason, failure.detail, from);
    const peer = { host: from.host, port: from.port, id: frame.sender.toString('hex') };
    for (const message of decoded.messages) {
      this.counters.messagesReceived++;
      for (const listener of this.listeners) {
        try {
          listener(message, peer);
        } catch (err) {
          this.logger.error('message listener failed', { kind: message.kind, error: (err as Error).message });
        }
      }
    }
  }

  private answerNack(frame: Frame, from: Address): void {
    const asked = decodeNackPayload(frame.payload);
    if (asked.length === 1 && asked[0] === NACK_COMPLETE) {
      this.pacer.completed(frame.messageId);
      return;
    }
    const entry = this.outbox.get(frame.messageId);
    if (entry === undefined) {
      this.logger.debug('NACK for a message no longer kept', { messageId: frame.messageId, from: addressKey(from) });
      return;
    }
    // Chunks still queued here (paced, not yet sent) will arrive anyway: a NACK that raced the
    // pacing must not send them twice.
    const queued = this.pacer.pendingIndices(frame.messageId);
    const indices = asked.filter((i) => i < entry.chunkCount && !queued.has(i)).slice(0, MAX_NACK_INDICES);
    if (indices.length === 0) return;
    this.noteRetransmit(indices.length);
    this.pacer.queue({
      to: entry.to,
      receiver: entry.receiver,
      messageId: frame.messageId,
      payload: entry.payload,
      chunkCount: entry.chunkCount,
      chunkSize: entry.chunkSize,
      indices,
      next: 0,
      repair: true,
    });
  }
}
