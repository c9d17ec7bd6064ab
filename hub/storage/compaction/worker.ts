// Entry of the compaction worker thread (started by CompactionRunner): its own database connection,
// compaction and retention on the CompactionLoop schedule, results and errors posted to the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { WriteGate } from '../write-gate.js';
import { CompactionLoop } from './loop.js';
import { errorInfo, type CompactionWorkerInit, type FromCompactionWorker, type ToCompactionWorker } from './messages.js';
import { CompactionStore } from './store.js';

const port = parentPort;
if (!port) throw new Error('compaction/worker.js runs as a worker thread (see CompactionRunner)');
const init = workerData as CompactionWorkerInit;
const post = (m: FromCompactionWorker): void => port.postMessage(m);

const store = new CompactionStore({ path: init.path, synchronous: init.synchronous, retention: init.retention, maxWalBytes: init.maxWalBytes, gate: new WriteGate(init.gate) });
const loop = new CompactionLoop(
  store,
  init.schedule,
  {
    pass: (result, backlog) => post({ type: 'pass', result, backlog }),
    retention: (deleted) => post({ type: 'retention', deleted }),
    error: (err) => post({ type: 'error', error: errorInfo(err) }),
  },
  { now: Date.now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
);

port.on('message', (m: ToCompactionWorker) => {
  switch (m.type) {
    case 'run': {
      let error;
      try {
        loop.runNow();
      } catch (err) {
        error = errorInfo(err);
      }
      post({ type: 'ran', id: m.id, error });
      break;
    }
    case 'stop':
      // Messages arrive between turns, so no pass is cut short.
      loop.stop();
      store.close();
      post({ type: 'stopped' });
      port.close();
      break;
  }
});

try {
  store.open();
  loop.start();
  post({ type: 'ready', backlog: store.backlog() });
} catch (err) {
  post({ type: 'error', error: errorInfo(err) });
  store.close();
  port.close();
}
