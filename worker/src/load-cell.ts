import type { LoadReport } from '@taskmesh/shared';

const QUEUED = 0;
const IN_FLIGHT = 1;
const CAPACITY = 2;
const SLOTS = 3;

/**
 * The worker's load in a SharedArrayBuffer: the main thread writes it on every change, the
 * heartbeat thread reads it without a message round trip, so heartbeats carry fresh figures
 * even while the main thread is busy running a handler.
 */
export class LoadCell {
  readonly buffer: SharedArrayBuffer;
  private readonly cells: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT)) {
    if (buffer.byteLength < SLOTS * Int32Array.BYTES_PER_ELEMENT) throw new RangeError('LoadCell buffer too small');
    this.buffer = buffer;
    this.cells = new Int32Array(buffer);
  }

  write(load: LoadReport): void {
    Atomics.store(this.cells, QUEUED, load.queued);
    Atomics.store(this.cells, IN_FLIGHT, load.inFlight);
    Atomics.store(this.cells, CAPACITY, load.capacity);
  }

  /** Fields are read one by one; a heartbeat may mix two adjacent states, which is harmless. */
  read(): LoadReport {
    return {
      queued: Atomics.load(this.cells, QUEUED),
      inFlight: Atomics.load(this.cells, IN_FLIGHT),
      capacity: Math.max(1, Atomics.load(this.cells, CAPACITY)),
    };
  }
}
