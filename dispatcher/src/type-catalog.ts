import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { RE2JS } from 're2js';
import {
  BUILTIN_CONTRACTS,
  TaskmeshError,
  describeContract,
  findContract,
  silentLogger,
  type ContractDescriptor,
  type TaskContract,
  type Logger,
  type WorkerRecord,
} from '@taskmesh/shared';

export interface TypeCatalogOptions {
  /** TASKMESH_TASK_TYPES: when set, exactly these types are accepted (registered or not). */
  allowlist?: readonly string[] | undefined;
  /** The nameservice's full list. */
  list: () => Promise<WorkerRecord[]>;
  refreshMs?: number;
  logger?: Logger;
}

/**
 * ajv's regular-expression engine for the `pattern` and `patternProperties` of registered
 * schemas: RE2 through re2js (pure JavaScript, linear time). A pattern RE2 does not support
 * (backreferences, lookaround) does not compile, and the schema is then left to the worker.
 */
const linearRegExp = Object.assign(
  (pattern: string): { test: (s: string) => boolean } => {
    const compiled = RE2JS.compile(pattern);
    return { test: (text: string) => compiled.test(text) };
  },
  { code: 'linearRegExp' },
);

/** Types learned from registrations, at most: a registry holds at most 1024 workers anyway. */
const MAX_TYPES = 1024;
const REFRESH_MS = 1000;

/** One type as GET /v1/types shows it. */
export interface TypeView {
  name: string;
  description: string | null;
  builtin: boolean;
  payloadSchema: unknown;
  fingerprint: string | null;
  /** Live workers of the type, and their summed load. */
  workers: number;
  load: { queued: number; inFlight: number; capacity: number };
}

/**
 * The task types the dispatcher accepts: the built-ins plus every type a worker registered with
 * its contract (learned from the nameservice's list every second), or exactly TASKMESH_TASK_TYPES
 * when that is set. A registered type's payloads are validated at submit against its JSON Schema
 * (ajv, compiled once per contract fingerprint); a built-in's with its zod schema (admission.ts).
 * A type stays known when its workers are gone: its tasks wait, as for a built-in.
 */
export class TypeCatalog {
  private readonly registered = new Map<string, ContractDescriptor>();
  private readonly validators = new Map<string, ValidateFunction | null>();
  // The first error is enough for an answer: allErrors would collect one per bad element of a
  // large array. Patterns run on RE2 (linear time whatever the input): a worker's schema is its
  // author's, the string it is tried on is anyone's, and a backtracking pattern such as
  // `^(a+)+$` would hold the dispatcher's thread for seconds on a short string.
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, code: { regExp: linearRegExp } });
  private readonly logger: Logger;
  private workers: WorkerRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly allowlist: ReadonlySet<string> | undefined;

  constructor(private readonly options: TypeCatalogOptions) {
    this.logger = options.logger ?? silentLogger();
    this.allowlist = options.allowlist === undefined ? undefined : new Set(options.allowlist);
  }

  /** Starts learning from the nameservice (first answer awaited at most briefly). */
  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? REFRESH_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The names accepted now, built-ins first. */
  names(): string[] {
    if (this.allowlist !== undefined) return [...this.allowlist];
    return [...BUILTIN_CONTRACTS.map((c) => c.name), ...this.registered.keys()];
  }

  /** A worker of `type` just came up: a type not known yet is learned now (its contract is in the list). */
  learnNow(type: string): void {
    if (!this.has(type)) void this.refresh();
  }

  has(type: string): boolean {
    return this.allowlist !== undefined ? this.allowlist.has(type) : findContract(type) !== undefined || this.registered.has(type);
  }

  /** Throws INVALID_PAYLOAD naming the fields when a registered type's schema refuses the payload. */
  validate(type: string, payload: unknown, where: string): void {
    const contract = this.registered.get(type);
    if (contract === undefined || findContract(type) !== undefined) return;
    const validate = this.validatorOf(type, contract);
    if (validate === null || validate(payload)) return;
    const errors = (validate.errors ?? []).slice(0, 20);
    const field = (path: string): string =>
      `${where}${
        path === ''
          ? 'payload'
          : path
              .slice(1)
              .split('/')
              .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
              .map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`))
              .join('')
      }`;
    const described = errors.slice(0, 5).map((e) => {
      const missing = (e.params as { missingProperty?: string }).missingProperty;
      const extra = (e.params as { additionalProperty?: string }).additionalProperty;
      const path =
        missing !== undefined ? `${e.instancePath}/${missing}` : extra !== undefined ? `${e.instancePath}/${extra}` : e.instancePath;
      return `${field(path)}: ${extra !== undefined ? 'unknown field' : (e.message ?? 'invalid')}`;
    });
    throw new TaskmeshError('INVALID_PAYLOAD', `invalid ${type} payload: ${described.join('; ')}`, {
      details: { fields: errors.map((e) => field(e.instancePath)) },
    });
  }

  /** Every known type with its contract, live workers and load. */
  describe(): TypeView[] {
    return this.names().map((name) => {
      const builtin = findContract(name);
      const registered = this.registered.get(name);
      const live = this.workers.filter((w) => w.type === name && w.state === 'live');
      const load = live.reduce(
        (sum, w) => ({
          queued: sum.queued + w.load.queued,
          inFlight: sum.inFlight + w.load.inFlight,
          capacity: sum.capacity + w.load.capacity,
        }),
        { queued: 0, inFlight: 0, capacity: 0 },
      );
      const contract = registered ?? (builtin === undefined ? undefined : this.builtinDescriptor(builtin));
      return {
        name,
        description: builtin?.description ?? registered?.description ?? null,
        builtin: builtin !== undefined,
        payloadSchema: contract?.payloadSchema ?? null,
        fingerprint: contract?.fingerprint ?? null,
        workers: live.length,
        load,
      };
    });
  }

  private readonly builtins = new Map<string, ContractDescriptor>();

  private builtinDescriptor(contract: TaskContract): ContractDescriptor {
    let known = this.builtins.get(contract.name);
    if (known === undefined) {
      known = describeContract(contract);
      this.builtins.set(contract.name, known);
    }
    return known;
  }

  private validatorOf(type: string, contract: ContractDescriptor): ValidateFunction | null {
    const known = this.validators.get(contract.fingerprint);
    if (known !== undefined) return known;
    let compiled: ValidateFunction | null;
    try {
      compiled = this.ajv.compile(contract.payloadSchema);
    } catch (err) {
      // The worker validates anyway; a schema ajv cannot compile only loses the early refusal.
      this.logger.warn('a registered payload schema does not compile', { type, error: err instanceof Error ? err.message : String(err) });
      compiled = null;
    }
    if (this.validators.size >= MAX_TYPES * 2) this.validators.clear();
    this.validators.set(contract.fingerprint, compiled);
    return compiled;
  }

  private async refresh(): Promise<void> {
    let workers: WorkerRecord[];
    try {
      workers = await this.options.list();
    } catch {
      return; // the nameservice is down: what was learned stays
    }
    this.workers = workers;
    for (const w of workers) {
      if (w.contract === undefined || w.state === 'expired' || findContract(w.type) !== undefined) continue;
      if (!this.registered.has(w.type) && this.registered.size >= MAX_TYPES) continue;
      // The nameservice lets one contract per type in; the newest registration wins a changeover.
      this.registered.set(w.type, w.contract);
    }
  }
}
