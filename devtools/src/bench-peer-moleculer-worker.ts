/** Moleculer's side of `npm run bench -- --peers`: a node with a reverse action, over TCP (see bench-peers.ts). */
import { ServiceBroker } from 'moleculer';

const [port, benchPort] = process.argv.slice(2).map(Number);
const broker = new ServiceBroker({
  nodeID: 'worker',
  logger: false,
  transporter: { type: 'TCP', options: { udpDiscovery: false, port, urls: [`127.0.0.1:${benchPort}/bench`] } },
});
broker.createService({
  name: 'reverse',
  actions: { run: (ctx: { params: { text: string } }) => ({ text: [...ctx.params.text].reverse().join('') }) },
});
await broker.start();
process.stdout.write('ready\n');
process.once('SIGTERM', () => void broker.stop().then(() => process.exit(0)));
