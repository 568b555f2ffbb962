import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareFigures, figuresLine, formatChanges, readFigures } from './bench-baseline.js';

test('the figures a report carries are read back, and nothing else is taken for them', () => {
  const figures = { batchTasksPerSecond: 28_101, p50Ms: 0.625, floorP50Ms: 0.235, largeMegabytesPerSecond: 61.2 };
  const report = `# taskmesh benchmark\n\n\`\`\`\ntables\n\`\`\`\n${figuresLine(figures)}\n`;
  assert.deepEqual(readFigures(report), figures);
  assert.equal(readFigures('# a report written before figures were kept'), undefined);
  assert.deepEqual(readFigures('<!-- bench-figures {"p50Ms":"fast","p99Ms":-1,"batchTasksPerSecond":9000} -->'), {
    batchTasksPerSecond: 9000,
  });
  assert.equal(readFigures('<!-- bench-figures {not json} -->'), undefined);
});

test('a slower machine is not a regression: figures are compared against the host floor of their own run', () => {
  // The same build on a VM 2.5 times slower: throughput down, latency up, the floor too.
  const fastDay = { batchTasksPerSecond: 28_000, p50Ms: 0.6, floorP50Ms: 0.24 };
  const slowDay = { batchTasksPerSecond: 11_200, p50Ms: 1.5, floorP50Ms: 0.6 };
  const changes = compareFigures(fastDay, slowDay);
  assert.deepEqual(
    changes.map((c) => [c.name, Number(c.worseBy.toFixed(2)), c.againstFloor]),
    [
      ['batch throughput', 1, true],
      ['submit-and-wait p50', 1, true],
    ],
  );
  // A collapse on the same machine is one.
  const collapsed = compareFigures(fastDay, { batchTasksPerSecond: 9_000, p50Ms: 0.61, floorP50Ms: 0.24 });
  assert.ok(collapsed[0]!.worseBy > 3);
  const text = formatChanges(collapsed, 2);
  assert.match(text, /batch throughput: 28,000 → 9,000 \(211% worse, against the host floor\)  ← more than 2× worse/);
  assert.match(text, /submit-and-wait p50: 0\.600 → 0\.610 \(2% worse/);
  // Without a floor in both runs, as measured.
  assert.equal(compareFigures({ p50Ms: 1 }, { p50Ms: 0.5, floorP50Ms: 0.2 })[0]?.againstFloor, false);
});
