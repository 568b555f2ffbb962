import { abortReason } from '../backoff.js';
import { TaskmeshError } from '../errors.js';
import type { LoadReport, TaskMessage } from '../protocol.js';
import type { Address } from './endpoint-stats.js';
import type { TaskContext, TaskExecutor } from './task-context.js';
import { FRAME_TYPE, FrameCodec } from './frame.js';
import { UdpEndpoint, type DatagramSend, type UdpEndpointOptions } from './udp-endpoint.js';

/** Helpers for the transport's own tests (real sockets on 127.0.0.1). */

export const TEST_SECRET = 'transport-test-secret';

export function openEndpoint(options: Partial<UdpEndpointOptions> = {}): Promise<UdpEndpoint> {
  return UdpEndpoint.open({ secret: TEST_SECRET, host: '127.0.0.1', port: 0, ...options });
}

/** An outgoing datagram as a lossy send sees it: read back from its frame, as the receiver would. */
export interface OutgoingDatagram {
  to: Address;
  /** The kinds of the messages it carries ('nack' for a NACK; a later chunk of a large message carries none). */
  kinds: string[];
  chunkIndex: number;
  chunkCount: number;
}

/**
 * Fault injection from outside the endpoint (its `wrapSend` option): every datagram is decoded
 * here, and those `drop` picks never reach the socket.
 */
export function lossySend(drop: (datagram: OutgoingDatagram) => boolean, secret = TEST_SECRET): (send: DatagramSend) => DatagramSend {
  const codec = new FrameCodec(secret);
  return (send) => (datagram, port, host, done) => {
    const decoded = codec.decode(datagram);
    if (!decoded.ok) throw new Error(`the endpoint sent an undecodable frame: ${decoded.detail}`);
    const { frame } = decoded;
    let kinds: string[] = [];
    if (frame.type === FRAME_TYPE.nack) kinds = ['nack'];
    else if (frame.chunkCount === 1) kinds = (JSON.parse(frame.payload.toString('utf8')) as Array<{ kind: string }>).map((m) => m.kind);
    else if (frame.chunkIndex === 0) kinds = [/"kind":"([a-z-]+)"/.exec(frame.payload.toString('utf8'))?.[1] ?? '?'];
    if (drop({ to: { host, port }, kinds, chunkIndex: frame.chunkIndex, chunkCount: frame.chunkCount })) {
      // Lost on the way: the send itself succeeded.
      queueMicrotask(() => done(null));
      return;
    }
    send(datagram, port, host, done);
  };
}

/** Where to reach an endpoint bound to 127.0.0.1. */
export const addressOf = (endpoint: UdpEndpoint): Address => ({ host: '127.0.0.1', port: endpoint.address.port, id: endpoint.id });

/**
 * A real executor with a fixed capacity that records every execution. Task types:
 *  - echo: resolves with the payload (after payload.delayMs, if given)
 *  - hold: runs until cancelled or released via release(taskId)
 *  - fail: rejects with HANDLER_FAILED
 *  - bad:  throws INVALID_PAYLOAD synchronously (rejected at the ack)
 *  - big:  resolves with a string of payload.bytes characters
 */
export class CountingExecutor implements TaskExecutor {
  readonly executions: string[] = [];
  readonly aborts = new Map<string, unknown>();
  private readonly holds = new Map<string, (value: unknown) => void>();
  private running = 0;

  constructor(private readonly capacity = 4) {}

  offer(task: TaskMessage, ctx: TaskContext): Promise<unknown> | 'busy' {
    if (task.type === 'bad') throw new TaskmeshError('INVALID_PAYLOAD', 'payload.text is required');
    if (this.running >= this.capacity) return 'busy';
    this.running++;
    this.executions.push(task.taskId);
    ctx.started();
    return this.run(task, ctx).finally(() => this.running--);
  }

  load(): LoadReport {
    return { queued: 0, inFlight: this.running, capacity: this.capacity };
  }

  /** How often a task id ran. */
  count(taskId: string): number {
    return this.executions.filter((id) => id === taskId).length;
  }

  release(taskId: string, value: unknown): void {
    this.holds.get(taskId)?.(value);
  }

  private async run(task: TaskMessage, ctx: TaskContext): Promise<unknown> {
    const payload = (task.payload ?? {}) as { delayMs?: number; bytes?: number };
    switch (task.type) {
      case 'echo':
        if (payload.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, payload.delayMs));
        return task.payload;
      case 'fail':
        throw new TaskmeshError('HANDLER_FAILED', `task ${task.taskId} failed on attempt ${task.attempt}`);
      case 'big':
        return 'x'.repeat(payload.bytes ?? 0);
      case 'hold':
        return new Promise((resolve, reject) => {
          this.holds.set(task.taskId, resolve);
          const signal = ctx.signal;
          signal.addEventListener(
            'abort',
            () => {
              this.aborts.set(task.taskId, signal.reason);
              reject(abortReason(signal));
            },
            { once: true },
          );
          ctx.progress(0.5);
        });
      default:
        throw new TaskmeshError('UNKNOWN_TYPE', `no handler for ${task.type}`);
    }
  }
}
