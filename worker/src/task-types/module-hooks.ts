/**
 * Module resolution hooks (node:module register) for user task modules: `@taskmesh/worker` and
 * `zod` resolve to the worker's own copies, wherever the module lives. Everything else resolves
 * as usual.
 */
interface HookData {
  worker: string;
  zod: string;
}

let targets: HookData | undefined;

export function initialize(data: HookData): void {
  targets = data;
}

type Next = (specifier: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<unknown> {
  if (targets !== undefined && specifier === '@taskmesh/worker') return { url: targets.worker, shortCircuit: true };
  if (targets !== undefined && specifier === 'zod') return { url: targets.zod, shortCircuit: true };
  return next(specifier, context);
}
