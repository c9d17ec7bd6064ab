// Baseline for the ingest benchmark: a bare ws server over the same TLS that only decodes frames, counts
// readings and acknowledges at once: no auth, no validation, no storage. The ceiling Hearth is compared to.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import { decode, encode, LIMITS, SUBPROTOCOL } from '../protocol/index.js';

const [certFile, keyFile] = process.argv.slice(2);
const server = createServer({ cert: readFileSync(certFile!), key: readFileSync(keyFile!) });
const wss = new WebSocketServer({ server, maxPayload: LIMITS.maxFrameBytes, handleProtocols: () => SUBPROTOCOL, perMessageDeflate: false });
let readings = 0;
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer) => {
    const f = decode(new Uint8Array(data));
    if (f.type === 'hello') {
      ws.send(encode({ type: 'welcome', hubTime: Date.now(), heartbeatMs: 30000, nextSeq: 1, maxFrameBytes: 65536, maxReadingsPerFrame: 64, maxBatchSamples: 4096, maxFramesPerSecond: 1000 }));
    } else if (f.type === 'telemetry') {
      readings += f.readings.length;
      ws.send(encode({ type: 'ack', seq: f.seq }));
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
void readings;
