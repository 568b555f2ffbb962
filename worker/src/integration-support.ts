import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import {
  NameserviceClient,
  TaskCaller,
  UdpEndpoint,
  type DispatchOutcome,
  type RetransmitPolicy,
  type ResultOutcome,
  type UdpEndpointOptions,
  type WorkerRecord,
} from '@taskmesh/shared';
import { TEST_SECRET, dispatch, type RunningService } from '@taskmesh/shared/testing';

/** A caller as the dispatcher has one: a TaskCaller on its own UDP endpoint, for integration tests. */
export interface TestCaller {
  endpoint: UdpEndpoint;
  caller: TaskCaller;
  /** Dispatches one task to a worker process and returns the outcome. */
  run(
    worker: RunningService,
    type: string,
    payload: unknown,
    extra?: { timeoutMs?: number; signal?: AbortSignal; taskId?: string; onAccepted?: () => void },
  ): Promise<DispatchOutcome>;
  close(): Promise<void>;
}

export async function openTestCaller(
  options: Partial<UdpEndpointOptions> & { keepaliveTimeoutMs?: number; retransmit?: Partial<RetransmitPolicy> } = {},
): Promise<TestCaller> {
  const { keepaliveTimeoutMs, retransmit, ...endpointOptions } = options;
  const endpoint = await UdpEndpoint.open({ secret: TEST_SECRET, host: '127.0.0.1', port: 0, ...endpointOptions });
  const caller = new TaskCaller({ endpoint, keepaliveTimeoutMs, ...(retransmit === undefined ? {} : { retransmit }) });
  return {
    endpoint,
    caller,
    run: (worker, type, payload, extra = {}) =>
      dispatch(caller, {
        to: workerAddress(worker),
        taskId: extra.taskId ?? randomUUID(),
        type,
        payload,
        attempt: 1,
        timeoutMs: extra.timeoutMs ?? 30_000,
        signal: extra.signal,
        onAccepted: extra.onAccepted,
      }),
    close: async () => {
      caller.close();
      await endpoint.close();
    },
  };
}

export const workerAddress = (worker: RunningService): { host: string; port: number; id: string | undefined } => ({
  host: '127.0.0.1',
  port: worker.ready.udp!,
  id: worker.ready.endpointId,
});

/** The value of a successful result, failing the test with what came instead. */
export function valueOf(outcome: DispatchOutcome): unknown {
  assert.equal(outcome.kind, 'result', `expected a result, got ${JSON.stringify(outcome)}`);
  const result = (outcome as { outcome: ResultOutcome }).outcome;
  assert.ok(result.ok, `expected success, got ${JSON.stringify(result)}`);
  return result.value;
}

/** Polls the nameservice until `ok` holds for the named worker's record (undefined: not listed). Bounded. */
export async function waitForRecord(
  client: NameserviceClient,
  name: string,
  ok: (record: WorkerRecord | undefined) => boolean,
  timeoutMs = 8000,
): Promise<{ record: WorkerRecord | undefined; afterMs: number }> {
  const started = Date.now();
  let record: WorkerRecord | undefined;
  while (Date.now() - started < timeoutMs) {
    record = (await client.list()).find((w) => w.name === name);
    if (ok(record)) return { record, afterMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`worker ${name}: condition not met within ${timeoutMs} ms; last record ${JSON.stringify(record)}`);
}

/** Lines a worker logged for one task id with the given event. */
export const linesFor = (worker: RunningService, event: string, taskId: string): Array<Record<string, unknown>> =>
  worker.lines.filter((l) => l.event === event && l.taskId === taskId);
