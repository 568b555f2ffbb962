import type { Address } from './endpoint-stats.js';
import { CHUNK_BURST, MAX_CHUNK_PAYLOAD } from './constants.js';
import { HeadQueue } from '../head-queue.js';

/** Chunks of one multi-chunk message still to be (re)sent. */
export interface ChunkJob {
  to: Address;
  /** The endpoint id of the peer at `to`, signed into every frame. */
  receiver: Buffer;
  messageId: number;
  payload: Buffer;
  chunkCount: number;
  /** The chunk indices to send, in order; `next` is the first not sent yet. */
  indices: number[];
  next: number;
}

/** Sends one chunk: `payload` is the slice of the job's payload at `index`. */
export type ChunkSender = (job: ChunkJob, index: number, payload: Buffer) => void;

/**
 * Paces the chunks of large messages: at most CHUNK_BURST per event-loop turn, jobs in the order
 * they came, so a multi-megabyte result does not overflow the peer's socket buffer in one burst
 * (the peer drains between turns). Small messages never pass through here.
 */
export class ChunkPacer {
  private readonly jobs = new HeadQueue<ChunkJob>();
  private scheduled = false;
  private stopped = false;

  constructor(private readonly send: ChunkSender) {}

  queue(job: ChunkJob): void {
    if (this.stopped) return;
    this.jobs.push(job);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.pump);
    }
  }

  /** Indices of `messageId` queued and not sent yet (a NACK that raced the pacing must not resend them). */
  pendingIndices(messageId: number): Set<number> {
    const out = new Set<number>();
    this.jobs.forEach((job) => {
      if (job.messageId === messageId) for (let i = job.next; i < job.indices.length; i++) out.add(job.indices[i]!);
    });
    return out;
  }

  /** Drops every queued chunk for good (the endpoint is closing). */
  stop(): void {
    this.stopped = true;
    this.jobs.clear();
  }

  private readonly pump = (): void => {
    this.scheduled = false;
    let budget = CHUNK_BURST;
    for (let job = this.jobs.peek(); job !== undefined && budget > 0; job = this.jobs.peek()) {
      while (budget > 0 && job.next < job.indices.length) {
        const index = job.indices[job.next++]!;
        const start = index * MAX_CHUNK_PAYLOAD;
        this.send(job, index, job.payload.subarray(start, start + MAX_CHUNK_PAYLOAD));
        budget--;
      }
      if (job.next >= job.indices.length) this.jobs.shift();
    }
    if (this.jobs.length > 0 && !this.stopped) {
      this.scheduled = true;
      setImmediate(this.pump);
    }
  };
}
