import dgram from 'node:dgram';
import http from 'node:http';

/**
 * The two processes of the bench's host floor (see bench-floor.ts), started by fork():
 * `echo` answers every datagram of more than 3 bytes with itself; `relay <echoPort>` takes an HTTP
 * POST, sends its body's text to the echo in a datagram, answers the request with the echo's reply
 * as JSON and then sends the echo a 3-byte datagram, as the dispatcher acknowledges a result. Each
 * reports its port over IPC and exits when its parent goes away.
 */
const send = (port: number): void => void process.send?.(port);
process.on('disconnect', () => process.exit(0));

const [role, echoPortArg] = process.argv.slice(2);
if (role === 'echo') {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (datagram, from) => {
    if (datagram.length > 3) socket.send(datagram, from.port, from.address);
  });
  socket.bind(0, '127.0.0.1', () => send(socket.address().port));
} else if (role === 'relay') {
  const echoPort = Number(echoPortArg);
  const socket = dgram.createSocket('udp4');
  const waiting = new Map<number, http.ServerResponse>();
  let nextId = 0;
  socket.on('message', (datagram) => {
    const id = datagram.readUInt32BE(0);
    const res = waiting.get(id);
    if (res === undefined) return;
    waiting.delete(id);
    const body = JSON.stringify({ id, status: 'succeeded', result: datagram.toString('utf8', 4) });
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    socket.send(Buffer.from('ack'), echoPort, '127.0.0.1');
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let text = '';
      try {
        const given = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payload?: { text?: unknown } }).payload?.text;
        text = typeof given === 'string' ? given : '';
      } catch {
        res.writeHead(400).end();
        return;
      }
      const id = ++nextId >>> 0;
      waiting.set(id, res);
      const datagram = Buffer.alloc(4 + Buffer.byteLength(text));
      datagram.writeUInt32BE(id, 0);
      datagram.write(text, 4, 'utf8');
      socket.send(datagram, echoPort, '127.0.0.1');
    });
  });
  server.keepAliveTimeout = 60_000;
  socket.bind(0, '127.0.0.1', () => server.listen(0, '127.0.0.1', () => send((server.address() as { port: number }).port)));
} else {
  process.stderr.write(`bench-floor-child: unknown role "${role ?? ''}" (echo | relay <echoPort>)\n`);
  process.exit(2);
}
