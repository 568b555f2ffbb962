import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { lookup } from 'node:dns/promises';
import { TaskmeshError } from '@taskmesh/shared';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export interface AdvertiseHostOptions {
  /** TASKMESH_WORKER_ADVERTISE_HOST, when set. */
  advertiseHost?: string | undefined;
  /** The UDP bind address. */
  bindHost: string;
  /** Where the nameservice is; the route to it tells which local address peers can reach. */
  nameserviceUrl: string;
}

/**
 * The address the worker registers for others to reach it at: the explicit setting, else the
 * bind address when it is a specific one, else the local address of the route to the
 * nameservice. The last gives the container's address on a Compose network or a Swarm overlay,
 * where the hostname may not resolve from other nodes.
 */
export async function resolveAdvertiseHost(options: AdvertiseHostOptions): Promise<string> {
  if (options.advertiseHost !== undefined && options.advertiseHost !== '') return options.advertiseHost;
  if (!WILDCARDS.has(options.bindHost)) return options.bindHost;
  return routeLocalAddress(options.nameserviceUrl);
}

/** Connects (no packet is sent) a UDP socket towards the URL's host and reads its local address. */
export async function routeLocalAddress(url: string): Promise<string> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  let resolved: { address: string; family: number };
  try {
    resolved = await lookup(host);
  } catch (err) {
    throw new TaskmeshError('UNAVAILABLE', `cannot resolve the nameservice host "${host}" to find the advertise address`, { cause: err });
  }
  const socket = createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
  try {
    const connected = once(socket, 'connect');
    socket.connect(port, resolved.address);
    await connected;
    const { address } = socket.address();
    if (WILDCARDS.has(address)) throw new TaskmeshError('UNAVAILABLE', `no route to ${resolved.address}`);
    return address;
  } catch (err) {
    throw err instanceof TaskmeshError
      ? err
      : new TaskmeshError('UNAVAILABLE', `no route to the nameservice at ${resolved.address}`, { cause: err });
  } finally {
    socket.close();
  }
}
