import { ChaosAction, ChaosRequest, parseOrThrow } from '@taskmesh/shared';
import type { Chaos } from './chaos.js';
import type { Route } from './task-routes.js';

/** GET /v1/chaos (what is in force) and POST /v1/chaos/:action, behind the API token like every route. */
export function chaosRoutes(chaos: Chaos): Route[] {
  return [
    { method: 'GET', path: '/v1/chaos', handle: (_req, reply) => reply.json(200, chaos.status()) },
    {
      method: 'POST',
      path: '/v1/chaos/:action',
      body: 'json',
      handle: async (req, reply) => {
        const action = parseOrThrow(ChaosAction, req.params.action, 'action');
        reply.json(200, await chaos.act(action, parseOrThrow(ChaosRequest, req.body, 'body')));
      },
    },
  ];
}
