import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import { createMonitoring, type Monitoring } from './monitoring.js';
import type { ContainerView } from './sources/docker-view.js';
import type { DockerEventView } from './sources/docker-view.js';
import { openRecordingSocket } from './test-support.js';

/**
 * Monitoring against the real Docker engine (npm run test:compose): one labelled throwaway
 * container stands in for a Compose service. Listed with stats, its logs streamed, and after a
 * kill shown as exited with its exit code and the events on the feed. Skips without an engine or
 * without a Node image to run.
 */
const CANDIDATE_IMAGES = ['taskmesh/node-base:local', 'node:20-bookworm-slim', 'node:20-slim', 'node:20'];
const docker = new Docker();

async function usableImage(): Promise<string | null> {
  try {
    await docker.ping();
  } catch {
    return null;
  }
  for (const name of CANDIDATE_IMAGES) {
    try {
      await docker.getImage(name).inspect();
      return name;
    } catch {
      // not present locally; the test does not pull
    }
  }
  return null;
}

const image = await usableImage();
if (image === null) console.log(`monitoring docker test: skipped, no Docker engine or none of ${CANDIDATE_IMAGES.join(', ')} present`);

describe('monitoring with a real Docker engine', { skip: image === null ? 'no Docker engine or Node image' : false }, () => {
  const project = `tm-monitoring-test-${process.pid}`;
  let container: Docker.Container;
  let monitoring: Monitoring;

  before(async () => {
    container = await docker.createContainer({
      Image: image!,
      name: `${project}-nameservice-1`,
      Entrypoint: [
        'node',
        '-e',
        "setInterval(() => { console.log('out', Date.now()); console.error('err') }, 200); let x = 0; setInterval(() => { for (let i = 0; i < 2e6; i++) x += i }, 50)",
      ],
      Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': 'nameservice' },
    });
    await container.start();
    monitoring = await createMonitoring({
      nameserviceUrl: 'http://127.0.0.1:9',
      dispatcherUrl: 'http://127.0.0.1:9',
      docker,
      composeProject: project,
      pollIntervalMs: 500,
    });
  });
  after(async () => {
    await monitoring?.close();
    await container?.remove({ force: true }).catch(() => undefined);
  });

  test('the container is listed with CPU and memory from the stats stream', async (t) => {
    assert.equal(monitoring.dockerConnected, true);
    const socket = await openRecordingSocket(`${monitoring.url.replace(/^http/, 'ws')}/api/events`);
    t.after(() => socket.close());
    const list = await socket.waitFor<ContainerView[]>('containers', (cs) =>
      cs.some((c) => c.memoryBytes !== null && c.cpuPercent !== null),
    );
    const c = list.find((x) => x.id === container.id)!;
    assert.equal(c.service, 'nameservice');
    assert.equal(c.project, project);
    assert.equal(c.state, 'running');
    assert.ok(c.memoryBytes! > 1024 * 1024);
    assert.ok(c.uptimeMs !== null && c.startedAt !== null);
    const api = (await (await fetch(`${monitoring.url}/api/containers`)).json()) as { docker: { connected: boolean; projects: string[] } };
    assert.deepEqual(api.docker.projects, [project]);
  });

  test('logs are streamed with stdout and stderr apart', async (t) => {
    const socket = await openRecordingSocket(
      `${monitoring.url.replace(/^http/, 'ws')}/api/containers/${container.id.slice(0, 12)}/logs?tail=5`,
    );
    t.after(() => socket.close());
    await socket.waitFor<{ stream: string; text: string }>('log', (l) => l.stream === 'stdout' && l.text.startsWith('out'));
    await socket.waitFor<{ stream: string; text: string }>('log', (l) => l.stream === 'stderr' && l.text === 'err');
  });

  test('a killed container stays listed as exited, and the feed shows it die', async (t) => {
    const socket = await openRecordingSocket(`${monitoring.url.replace(/^http/, 'ws')}/api/events`);
    t.after(() => socket.close());
    await container.kill();
    const die = await socket.waitFor<DockerEventView>('docker-event', (e) => e.action === 'die' && e.id === container.id);
    assert.equal(die.exitCode, 137);
    const list = await socket.waitFor<ContainerView[]>('containers', (cs) => cs.some((c) => c.id === container.id && c.state === 'exited'));
    const c = list.find((x) => x.id === container.id)!;
    assert.equal(c.exitCode, 137);
    assert.equal(c.cpuPercent, null);
  });
});
