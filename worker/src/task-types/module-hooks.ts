/**
 * Module resolution hooks (node:module register) for user task modules: `@taskmesh/worker` and
 * `zod` resolve to the worker's own copies, wherever the module lives, and a package the module
 * cannot find from its own folder is looked for where the worker finds its packages (so a module
 * outside taskmesh can use `@napi-rs/canvas` as the image type does). The rest resolves as usual.
 */
interface HookData {
  worker: string;
  zod: string;
}

let targets: HookData | undefined;

export function initialize(data: HookData): void {
  targets = data;
}

interface ResolveContext {
  parentURL?: string;
}
type Next = (specifier: string, context: ResolveContext) => Promise<unknown>;

const isBare = (specifier: string): boolean => !/^(\.|\/|[a-z]+:)/i.test(specifier);

export async function resolve(specifier: string, context: ResolveContext, next: Next): Promise<unknown> {
  if (targets === undefined) return next(specifier, context);
  if (specifier === '@taskmesh/worker') return { url: targets.worker, shortCircuit: true };
  if (specifier === 'zod') return { url: targets.zod, shortCircuit: true };
  try {
    return await next(specifier, context);
  } catch (err) {
    if (!isBare(specifier) || (err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return next(specifier, { ...context, parentURL: targets.worker });
  }
}
