import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineLine, renderBenchReport } from './bench-report-file.js';

test('the bench report names the machine, the date and the settings beside the figures', () => {
  const at = new Date('2026-12-01T08:00:00.000Z');
  const text = renderBenchReport(
    {
      sections: [
        { heading: 'journal: process', tables: '│ batch │ throughput │ 41,457 tasks/s │\n', cpu: 'CPU time over 4.6 s: dispatcher 3.09 s' },
        { heading: 'journal: machine', tables: '│ batch │ throughput │ 30,001 tasks/s │\n', cpu: 'CPU time over 5.0 s: dispatcher 3.50 s' },
      ],
      settings: '--tasks 50000',
      at,
    },
    '2 × Test CPU, 24.0 GiB',
  );
  assert.match(text, /^# taskmesh benchmark\n/);
  assert.match(text, /on 2026-12-01T08:00:00\.000Z; measured on 2 × Test CPU, 24\.0 GiB\./);
  assert.match(text, /Settings: --tasks 50000\./);
  assert.match(text, /41,457 tasks\/s/);
  assert.match(
    text,
    /## journal: process\n\n```\n│ batch │ throughput │ 41,457 tasks\/s │\nCPU time over 4\.6 s: dispatcher 3\.09 s\n```\n/,
  );
  assert.match(text, /## journal: machine\n\n```\n│ batch │ throughput │ 30,001 tasks\/s │\n.*dispatcher 3\.50 s\n```\n$/);
  assert.match(machineLine(), /^\d+ × .+, \d+\.\d GiB, Linux .+, Node v\d+/);
});
