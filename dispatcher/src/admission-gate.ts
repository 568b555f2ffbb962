import { TaskmeshError } from '@taskmesh/shared';
import type { PendingQueue } from './pending-queue.js';
import type { TaskStore } from './task-store.js';

export interface AdmissionGateOptions {
  knownTypes: readonly string[];
  pending: PendingQueue;
  store: TaskStore;
  /** Most payload bytes of unfinished tasks (TASKMESH_PENDING_BYTES); more is QUEUE_FULL. */
  pendingBytes?: number;
}

/**
 * Whether a task may come in at all: its type is known and there is room for it. The HTTP
 * handlers ask before anything is created; the runner asks again for a retry or a stream frame.
 */
export class AdmissionGate {
  readonly knownTypes: ReadonlySet<string>;

  constructor(private readonly options: AdmissionGateOptions) {
    this.knownTypes = new Set(options.knownTypes);
  }

  /** Throws UNKNOWN_TYPE naming the known types. */
  checkType(type: string, where = 'type'): void {
    if (this.knownTypes.has(type)) return;
    throw new TaskmeshError('UNKNOWN_TYPE', `${where}: unknown task type "${type}"; known types: ${[...this.knownTypes].join(', ')}`, {
      details: { knownTypes: [...this.knownTypes] },
    });
  }

  /** Throws QUEUE_FULL when `n` more tasks (of `bytes` payload) would not fit. */
  checkRoom(n: number, bytes = 0): void {
    const { pending, store } = this.options;
    if (!pending.hasRoom(n)) {
      throw new TaskmeshError('QUEUE_FULL', `pending queue full (${pending.size} of ${pending.limit} tasks waiting for a worker)`, {
        details: { limit: pending.limit },
      });
    }
    const limit = this.options.pendingBytes ?? Number.POSITIVE_INFINITY;
    if (bytes > 0 && store.unfinishedBytes + bytes > limit) {
      throw new TaskmeshError(
        'QUEUE_FULL',
        `unfinished tasks hold ${store.unfinishedBytes} payload bytes; ${bytes} more would pass TASKMESH_PENDING_BYTES=${limit}`,
        { details: { limit: 'TASKMESH_PENDING_BYTES', max: limit } },
      );
    }
  }
}
