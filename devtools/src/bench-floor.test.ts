import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { measureFloor } from './bench-floor.js';

/** Pids of live processes whose command line names the floor's child script (Linux /proc). */
function floorChildren(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('bench-floor-child.js')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test('the host floor relays real requests through two processes, one at a time, and stops them', async () => {
  const before = floorChildren();
  const floor = await measureFloor({ requests: 60, warmup: 5 });
  assert.equal(floor.requests, 60);
  assert.equal(floor.latencyMs.count, 60);
  assert.ok(floor.latencyMs.p50 > 0 && floor.latencyMs.p50 <= floor.latencyMs.p99 && floor.latencyMs.p99 <= floor.latencyMs.max);
  // Every answer was checked against its request inside measureFloor (it throws otherwise).
  assert.deepEqual(
    floorChildren().filter((pid) => !before.includes(pid)),
    [],
    'the relay and echo processes have exited',
  );
});
