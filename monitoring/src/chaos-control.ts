import { CHAOS_KEY_PURPOSE, ContainerChaosRequest, RequestVerifier, TaskmeshError, deriveKey, parseOrThrow } from '@taskmesh/shared';
import type { DockerSource } from './sources/docker-source.js';

/**
 * Monitoring's half of the chaos controls under Compose: the dispatcher (which has no Docker
 * socket) asks here to kill, pause or resume a worker container. Refused unless TASKMESH_CHAOS=1
 * here too; every request is signed with TASKMESH_SECRET (key purpose "chaos") and used once.
 */
export class ChaosControl {
  private readonly verifier: RequestVerifier | null;

  constructor(
    private readonly enabled: boolean,
    secret: string | undefined,
    private readonly docker: DockerSource | null,
  ) {
    this.verifier = secret === undefined ? null : new RequestVerifier(deriveKey(secret, CHAOS_KEY_PURPOSE));
  }

  async handle(path: string, raw: Buffer, signature: string | undefined): Promise<{ done: string }> {
    if (!this.enabled) throw new TaskmeshError('FORBIDDEN', 'chaos controls are off here: start monitoring with TASKMESH_CHAOS=1');
    if (this.verifier === null) throw new TaskmeshError('FORBIDDEN', 'monitoring has no TASKMESH_SECRET to check chaos requests with');
    const verdict = this.verifier.verify({ method: 'POST', path, body: raw }, signature);
    if (!verdict.ok) throw new TaskmeshError('UNAUTHORIZED', verdict.reason);
    if (this.docker === null) throw new TaskmeshError('UNAVAILABLE', 'Docker is not connected: no container to act on');
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new TaskmeshError('INVALID_REQUEST', 'body: not JSON');
    }
    const req = parseOrThrow(ContainerChaosRequest, json, 'body');
    return { done: await this.docker.control(req.action, req.hostname, req.forMs) };
  }
}
