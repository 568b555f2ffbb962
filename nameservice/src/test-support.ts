import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { NameserviceClient } from '@taskmesh/shared';
import { TEST_SECRET, serviceScript, spawnService, type RunningService } from '@taskmesh/shared/testing';

/** Helpers shared by this workspace's tests; not part of the public API. */

const stacks = new WeakMap<TestContext, Array<() => unknown>>();

/**
 * Registers a cleanup step. Steps run last-registered first (a process is stopped before its
 * temp dir is removed) and every step runs even if an earlier one fails; t.after alone runs
 * hooks first-registered first and stops at the first failure.
 */
export function onCleanup(t: TestContext, step: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const steps: Array<() => unknown> = [];
    stack = steps;
    stacks.set(t, steps);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const fn of steps.reverse()) {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw errors[0];
    });
  }
  stack.push(step);
}

/** A fresh temp directory, removed when the test ends (after everything registered later). */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmesh-ns-'));
  onCleanup(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A valid registration body, with overrides. */
export const registration = (name: string, overrides: Record<string, unknown> = {}) => ({
  name,
  type: 'echo',
  host: '127.0.0.1',
  port: 40000,
  endpointId: '0123456789abcdef',
  capacity: 4,
  pid: process.pid,
  ...overrides,
});

/** The nameservice as a real process on 127.0.0.1 (port 0 unless given), stopped after the test. */
export async function startNameservice(
  t: TestContext,
  registryFile: string,
  options: { port?: number | undefined; env?: NodeJS.ProcessEnv } = {},
): Promise<{ svc: RunningService; client: NameserviceClient; url: string }> {
  const svc = await spawnService({
    name: 'nameservice',
    script: serviceScript('nameservice'),
    env: {
      TASKMESH_NAMESERVICE_PORT: String(options.port ?? 0),
      TASKMESH_NAMESERVICE_HOST: '127.0.0.1',
      TASKMESH_REGISTRY_FILE: registryFile,
      TASKMESH_LOG_LEVEL: 'info',
      ...options.env,
    },
  });
  onCleanup(t, () => svc.kill('SIGKILL'));
  const url = `http://127.0.0.1:${svc.ready.http!}`;
  return { svc, url, client: new NameserviceClient({ secret: TEST_SECRET, baseUrl: url }) };
}
