import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT, startRunner, type RunnerProcess } from '@taskmesh/shared/testing';

/**
 * The dashboard of `npm start` (the real runner, chaos controls on) in Chromium: a task's page
 * names its trace and shows, for an attempt, the worker's process, its stats and its log lines
 * then (from the runner's log files); the workers table offers kill and pause, which the runner
 * carries out. Screenshot: test-output/task-worker.png.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);

describe('npm start dashboard in Chromium', { skip: hasChromium ? false : `no Chromium at ${CHROMIUM}` }, () => {
  let dir: string;
  let runner: RunnerProcess;
  let browser: Browser;
  let page: Page;
  let api: string;
  let dashboard: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'taskmesh-runner-dash-'));
    runner = await startRunner({
      dir,
      workers: { reverse: { replicas: 1 }, wait: { replicas: 2 } },
      stderr: 'inherit',
      env: { TASKMESH_CHAOS: '1', TASKMESH_MONITORING_POLL_MS: '500', DOCKER_HOST: 'unix:///nonexistent/taskmesh-test/docker.sock' },
    });
    api = runner.urls.dispatcher;
    dashboard = runner.urls.monitoring;
    await runner.ready;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1300 } });
  });
  after(async () => {
    await browser?.close();
    await runner?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("a task's page names its trace and shows its worker's process, stats and log lines around the attempt", async () => {
    const traceId = 'ab'.repeat(16);
    const res = await fetch(`${api}/v1/tasks?wait=10000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${'cd'.repeat(8)}-01` },
      body: JSON.stringify({ type: 'reverse', payload: { text: 'where did it run' } }),
    });
    const task = (await res.json()) as { id: string; status: string; worker: string };
    assert.equal(task.status, 'succeeded');
    await page.goto(`${dashboard}/tasks/${task.id}`);
    await page.waitForFunction("document.body.dataset.loaded === 'true'", null, { timeout: 15_000 });
    assert.equal(await page.textContent('#trace-id'), traceId);
    await page.click('button.worker-around');
    await page.waitForFunction("document.querySelector('.around pre.log-lines')?.textContent.length > 0", null, { timeout: 10_000 });
    const around = (await page.textContent('.around'))!;
    assert.match(around, /process worker-reverse, pid \d+/);
    assert.match(around, /% CPU/);
    assert.match(around, /\(runner\)/);
    await mkdir(join(REPO_ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(REPO_ROOT, 'test-output', 'task-worker.png'), fullPage: true });
  });

  test('the workers table offers kill, pause and resume under the runner; pause stops the process until resumed', async () => {
    await page.goto(dashboard);
    const workers = ((await (await fetch(`${api}/v1/workers`)).json()) as { workers: Array<{ name: string; type: string; pid: number }> })
      .workers;
    const victim = workers.find((w) => w.type === 'wait')!;
    const pause = `#workers-table button[data-chaos="pause"][data-worker="${victim.name}"]`;
    await page.waitForSelector(pause, { timeout: 15_000 });
    await page.click(pause);
    await page.waitForFunction(
      `document.querySelector('#workers-table tr[data-worker="${victim.name}"] .chaos-col')?.textContent.includes('paused')`,
      null,
      {
        timeout: 10_000,
      },
    );
    const { readFile } = await import('node:fs/promises');
    const state = async (): Promise<string> => (await readFile(`/proc/${victim.pid}/stat`, 'utf8')).split(') ')[1]![0]!;
    assert.equal(await state(), 'T');
    await page.click(`#workers-table button[data-chaos="resume"][data-worker="${victim.name}"]`);
    await page.waitForFunction(
      `!document.querySelector('#workers-table tr[data-worker="${victim.name}"] .chaos-col')?.textContent.includes('paused')`,
      null,
      {
        timeout: 10_000,
      },
    );
    assert.notEqual(await state(), 'T');
  });

  test('killed from the workers table, a worker shows why it is gone: the runner saw it killed', async () => {
    const workers = ((await (await fetch(`${api}/v1/workers`)).json()) as { workers: Array<{ name: string; type: string; state: string }> })
      .workers;
    const victim = workers.find((w) => w.type === 'wait' && w.state === 'live')!;
    page.once('dialog', (dialog) => void dialog.accept());
    await page.click(`#workers-table button[data-chaos="kill"][data-worker="${victim.name}"]`);
    await page.waitForFunction(
      `document.querySelector('#workers-table tr[data-worker="${victim.name}"] .down-reason')?.textContent.includes('killed by SIGKILL, seen by the runner')`,
      null,
      { timeout: 10_000 },
    );
    assert.match((await page.textContent(`#workers-table tr[data-worker="${victim.name}"] .state-col`)) ?? '', /expired/);
  });
});
