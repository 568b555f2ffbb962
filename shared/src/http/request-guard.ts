import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { TaskmeshError } from '../errors.js';

/** Who may reach a service over HTTP: extra host names and browser origins beyond the defaults. */
export interface RequestGuardOptions {
  /** TASKMESH_ALLOWED_HOSTS: host names (no port) accepted in `Host` besides the defaults; `*` for any. */
  allowedHosts?: readonly string[];
  /** TASKMESH_ALLOWED_ORIGINS: browser origins (`https://ops.example.com`) allowed besides the page's own; `*` for any. */
  allowedOrigins?: readonly string[];
}

/** Host verdicts remembered; a client sending many different Host values only costs parsing. */
const HOST_CACHE_SIZE = 256;

/**
 * The checks against a browser turned against the API:
 * - DNS rebinding: a page at attacker.example whose name is made to point at 127.0.0.1 reaches
 *   the API with `Host: attacker.example`. A Host is accepted when it is an IP address,
 *   `localhost` (or a name under it), a single-label name (a container or Compose service such as
 *   `dispatcher`), or listed in TASKMESH_ALLOWED_HOSTS.
 * - Cross-site requests and WebSockets: a request with an `Origin` (only browsers send one) must
 *   come from the same origin (its host equals `Host`) or one listed in TASKMESH_ALLOWED_ORIGINS.
 *   The CLI and scripts send no Origin and are unaffected.
 */
export class RequestGuard {
  private readonly hosts: ReadonlySet<string>;
  private readonly anyHost: boolean;
  private readonly origins: ReadonlySet<string>;
  private readonly anyOrigin: boolean;
  private readonly hostCache = new Map<string, boolean>();

  constructor(options: RequestGuardOptions = {}) {
    const hosts = (options.allowedHosts ?? []).map((h) => h.toLowerCase());
    this.anyHost = hosts.includes('*');
    this.hosts = new Set(hosts);
    const origins = (options.allowedOrigins ?? []).map((o) => o.toLowerCase().replace(/\/+$/, ''));
    this.anyOrigin = origins.includes('*');
    this.origins = new Set(origins);
  }

  /** Throws FORBIDDEN when the request's Host or Origin is not accepted (see the class comment). */
  check(req: IncomingMessage): void {
    const refusal = this.refusal(req);
    if (refusal !== undefined) throw refusal;
  }

  /** The check as the first middleware of an express app: a refused request goes to its error handler. */
  middleware(): (req: IncomingMessage, res: unknown, next: (err?: unknown) => void) => void {
    return (req, _res, next) => {
      const refusal = this.refusal(req);
      if (refusal === undefined) next();
      else next(refusal);
    };
  }

  /** The same check as a verdict, for callers that answer differently (an upgrade, the fast lane). */
  allows(req: IncomingMessage): boolean {
    return this.refusal(req) === undefined;
  }

  /** Why a request is refused, or undefined when it is accepted. */
  private refusal(req: IncomingMessage): TaskmeshError | undefined {
    const host = req.headers.host;
    if (host !== undefined && !this.hostAllowed(host)) {
      return new TaskmeshError(
        'FORBIDDEN',
        `Host "${host.slice(0, 100)}" is not accepted: add its name to TASKMESH_ALLOWED_HOSTS to serve it`,
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin, host)) {
      return new TaskmeshError(
        'FORBIDDEN',
        `Origin "${origin.slice(0, 100)}" is not this service's own: add it to TASKMESH_ALLOWED_ORIGINS to allow it`,
      );
    }
    return undefined;
  }

  private hostAllowed(host: string): boolean {
    const cached = this.hostCache.get(host);
    if (cached !== undefined) return cached;
    const verdict = this.anyHost || this.judgeHost(host);
    if (this.hostCache.size >= HOST_CACHE_SIZE) this.hostCache.clear();
    this.hostCache.set(host, verdict);
    return verdict;
  }

  private judgeHost(host: string): boolean {
    const name = hostnameOf(host);
    if (name === undefined) return false;
    if (isIP(name) !== 0) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    if (this.hosts.has(name)) return true;
    return /^[a-z0-9_-]+$/.test(name);
  }

  private originAllowed(origin: string, host: string | undefined): boolean {
    if (this.anyOrigin) return true;
    const normalised = origin.toLowerCase();
    if (this.origins.has(normalised)) return true;
    if (normalised === 'null' || host === undefined) return false;
    try {
      return new URL(normalised).host === host.toLowerCase();
    } catch {
      return false;
    }
  }
}

/** `example.com:80` → `example.com`, `[::1]:7200` → `::1`; undefined when it is not a host. */
function hostnameOf(host: string): string | undefined {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end < 0 ? undefined : lower.slice(1, end);
  }
  const colon = lower.indexOf(':');
  const name = colon < 0 ? lower : lower.slice(0, colon);
  return /^[a-z0-9._-]+$/.test(name) ? name.replace(/\.$/, '') : undefined;
}

/**
 * The URL of a request, parsed as a client sent it: `//x:99999/` or other junk is an
 * INVALID_REQUEST (400), never a TypeError thrown out of a handler.
 */
export function requestUrl(raw: string | undefined): URL {
  const path = raw ?? '/';
  // An origin-form target is one `/` and a path: `//host...` would be read as an authority.
  if (!path.startsWith('/') || path.startsWith('//')) throw malformed(path);
  try {
    return new URL(`http://request${path}`);
  } catch {
    throw malformed(path);
  }
}

const malformed = (path: string): TaskmeshError => new TaskmeshError('INVALID_REQUEST', `malformed request target "${path.slice(0, 100)}"`);
