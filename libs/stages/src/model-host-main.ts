/**
 * Entry point of a model-host process (forked by `ProcessModelHost`): pins itself to its device,
 * loads the pipeline's whole models (text encoders, VAE decoder) and runs them on request, so
 * the coordinator's event loop never blocks on them.
 */
import { setProcessAffinity } from '@asyncdiff/shm';

import { assertNever } from './protocol.js';
import { isMessage, type FromModelHost, type ToModelHost } from './model-host/protocol.js';
import { loadSessions, runSession, type OrtSessions } from './model-host/ort-sessions.js';

const send = (m: FromModelHost): void => {
  if (process.connected) process.send?.(m);
};

let sessions: OrtSessions | undefined;
let chain: Promise<void> = Promise.resolve();

async function handle(m: ToModelHost): Promise<void> {
  try {
    switch (m.type) {
      case 'load':
        if (m.spec.cpus && m.spec.cpus.length > 0) setProcessAffinity(m.spec.cpus);
        sessions = await loadSessions(m.models, m.spec);
        send({ type: 'loaded', id: m.id, metadata: sessions.metadata });
        return;
      case 'run':
        if (!sessions) throw Object.assign(new Error('run before load'), { code: 'MODEL_HOST_PROTOCOL' });
        send({ type: 'ran', id: m.id, outputs: await runSession(sessions, m.model, m.feeds, m.outputs) });
        return;
      case 'shutdown':
        send({ type: 'stopping', id: m.id });
        setImmediate(() => process.exit(0));
        return;
      default:
        assertNever(m);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    send({ type: 'error', id: m.id, code: err.code ?? 'MODEL_HOST_FAILED', message: err.message });
  }
}

process.on('message', (m: unknown) => {
  if (!isMessage<ToModelHost>(m)) return;
  // One request at a time: ORT runs in one process do not overlap anyway, and order is kept.
  chain = chain.then(() => handle(m));
});

// The coordinator going away (crash or kill) must not leave an orphaned host behind.
process.on('disconnect', () => process.exit(0));

send({ type: 'started', pid: process.pid });
