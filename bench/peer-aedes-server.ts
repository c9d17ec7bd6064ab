// A bare aedes on TCP in its own process, the baseline broker of `npm run bench -- peers` (the same broker
// bench/mqtt.ts runs in-process; here apart, as Mosquitto is). Prints {"port": n} once it listens.
import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = net.createServer(broker.handle);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => broker.close(() => server.close(() => process.exit(0))));
