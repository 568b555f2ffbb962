import { addressKey, type Address } from './endpoint-stats.js';
import { CHUNK_BURST_BYTES, CHUNK_WINDOW_BYTES, CHUNK_COMPLETION_WAIT_MS } from './constants.js';

/** Chunks of one multi-chunk message still to be (re)sent. */
export interface ChunkJob {
  to: Address;
  /** The endpoint id of the peer at `to`, signed into every frame. */
  receiver: Buffer;
  messageId: number;
  payload: Buffer;
  chunkCount: number;
  /** Bytes of every chunk but the last (the path's datagram payload). */
  chunkSize: number;
  /** The chunk indices to send, in order; `next` is the first not sent yet. */
  indices: number[];
  next: number;
  /**
   * A repair (chunks a NACK asked for): sent past the window, since the message they complete is
   * what frees it. A first sending waits for room in its peer's window.
   */
  repair?: boolean;
}

/** Sends one chunk: `payload` is the slice of the job's payload at `index`. */
export type ChunkSender = (job: ChunkJob, index: number, payload: Buffer) => void;

export interface ChunkPacerOptions {
  /** Bytes of first sendings one peer may have unconfirmed at once (default CHUNK_WINDOW_BYTES). */
  windowBytes?: number;
  /** How long a message's bytes count against the window without the peer confirming it. */
  completionWaitMs?: number;
}

interface InFlight {
  peer: string;
  bytes: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Paces the chunks of large messages. Per peer, first sendings are held to a window of bytes the
 * peer has not confirmed yet (a receiver confirms a message it put back together with a NACK of
 * NACK_COMPLETE; a peer that does not is given CHUNK_COMPLETION_WAIT_MS after the last chunk): a peer's
 * socket buffer then never holds more than the window of this endpoint's chunks, however many
 * large messages are queued for it, so they arrive instead of overflowing it. Per event-loop
 * turn at most CHUNK_BURST_BYTES leave, so other work interleaves. Small messages never pass
 * through here.
 */
export class ChunkPacer {
  private jobs: ChunkJob[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly peerBytes = new Map<string, number>();
  private readonly windowBytes: number;
  private readonly completionWaitMs: number;
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly send: ChunkSender,
    options: ChunkPacerOptions = {},
  ) {
    this.windowBytes = options.windowBytes ?? CHUNK_WINDOW_BYTES;
    this.completionWaitMs = options.completionWaitMs ?? CHUNK_COMPLETION_WAIT_MS;
  }

  queue(job: ChunkJob): void {
    if (this.stopped) return;
    this.jobs.push(job);
    this.schedule();
  }

  /** The peer put message `messageId` back together: its bytes leave the window. */
  completed(messageId: number): void {
    const flight = this.inFlight.get(messageId);
    if (flight === undefined) return;
    clearTimeout(flight.timer);
    this.release(messageId, flight);
  }

  /** Indices of `messageId` queued and not sent yet (a NACK that raced the pacing must not resend them). */
  pendingIndices(messageId: number): Set<number> {
    const out = new Set<number>();
    for (const job of this.jobs) {
      if (job.messageId === messageId) for (let i = job.next; i < job.indices.length; i++) out.add(job.indices[i]!);
    }
    return out;
  }

  /** Whether chunks to `to` are queued, or sent and not confirmed yet. */
  busyWith(to: Address): boolean {
    const peer = addressKey(to);
    if (this.peerBytes.has(peer)) return true;
    for (const job of this.jobs) if (addressKey(job.to) === peer) return true;
    return false;
  }

  /** Drops every queued chunk for good (the endpoint is closing). */
  stop(): void {
    this.stopped = true;
    this.jobs = [];
    for (const flight of this.inFlight.values()) clearTimeout(flight.timer);
    this.inFlight.clear();
    this.peerBytes.clear();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(this.pump);
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    let budget = CHUNK_BURST_BYTES;
    const waiting: ChunkJob[] = [];
    const jobs = this.jobs;
    this.jobs = [];
    for (const job of jobs) {
      if (budget <= 0 || !this.admit(job)) {
        waiting.push(job);
        continue;
      }
      while (budget > 0 && job.next < job.indices.length) {
        const index = job.indices[job.next++]!;
        const start = index * job.chunkSize;
        const chunk = job.payload.subarray(start, start + job.chunkSize);
        this.send(job, index, chunk);
        budget -= chunk.length;
      }
      if (job.next < job.indices.length) waiting.push(job);
      else this.sentAll(job);
    }
    // Jobs queued while pumping (a send's callback) go after the ones still waiting.
    this.jobs = waiting.concat(this.jobs);
    if (budget <= 0 && this.jobs.length > 0) this.schedule();
  };

  /** Whether a job may send now: a repair or one already started always; a first sending if its peer's window has room (or holds nothing). */
  private admit(job: ChunkJob): boolean {
    if (job.repair === true || job.next > 0) return true;
    const peer = addressKey(job.to);
    const held = this.peerBytes.get(peer) ?? 0;
    const bytes = Math.min(job.payload.length, job.indices.length * job.chunkSize);
    if (held > 0 && held + bytes > this.windowBytes) return false;
    this.peerBytes.set(peer, held + bytes);
    this.inFlight.set(job.messageId, { peer, bytes, timer: undefined });
    return true;
  }

  /** A first sending's last chunk left: the peer has until the wait to confirm it. */
  private sentAll(job: ChunkJob): void {
    const flight = job.repair === true ? undefined : this.inFlight.get(job.messageId);
    if (flight === undefined || flight.timer !== undefined) return;
    flight.timer = setTimeout(() => this.release(job.messageId, flight), this.completionWaitMs);
    flight.timer.unref();
  }

  private release(messageId: number, flight: InFlight): void {
    if (this.inFlight.get(messageId) !== flight) return;
    this.inFlight.delete(messageId);
    const left = (this.peerBytes.get(flight.peer) ?? 0) - flight.bytes;
    if (left > 0) this.peerBytes.set(flight.peer, left);
    else this.peerBytes.delete(flight.peer);
    if (this.jobs.length > 0) this.schedule();
  }
}
