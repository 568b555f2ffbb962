import { TaskmeshError } from '@taskmesh/shared';
import type { PendingQueue } from './pending-queue.js';
import type { TaskStore } from './task-store.js';
import type { TypeCatalog } from './type-catalog.js';

export interface AdmissionGateOptions {
  /** Which types are accepted, and the registered types' payload schemas. */
  catalog: TypeCatalog;
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
  constructor(private readonly options: AdmissionGateOptions) {}

  get catalog(): TypeCatalog {
    return this.options.catalog;
  }

  /** Throws UNKNOWN_TYPE naming the known types. */
  checkType(type: string, where = 'type'): void {
    const { catalog } = this.options;
    if (catalog.has(type)) return;
    const known = catalog.names();
    throw new TaskmeshError('UNKNOWN_TYPE', `${where}: unknown task type "${type}"; known types: ${known.join(', ')}`, {
      details: { knownTypes: known },
    });
  }

  /** A registered type's payload against its contract (INVALID_PAYLOAD naming the fields). */
  checkPayload(type: string, payload: unknown, where = ''): void {
    this.options.catalog.validate(type, payload, where === '' ? '' : `${where}payload.`);
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
