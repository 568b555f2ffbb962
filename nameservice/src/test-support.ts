import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** Helpers shared by this workspace's tests; not part of the public API. */

/** A fresh temp directory, removed when the test ends. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-ns-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Polls `probe` until it returns a value other than undefined, for conditions that have no event
 * to await (e.g. "the nameservice shows this worker as expired"). Bounded by `timeoutMs`.
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A valid registration body, with overrides. */
export const registration = (name: string, overrides: Record<string, unknown> = {}) => ({
  name,
  type: 'echo',
  host: '127.0.0.1',
  port: 40000,
  capacity: 4,
  pid: process.pid,
  ...overrides,
});
