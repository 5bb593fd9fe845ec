/**
 * Entry point of a stage process (forked by `StageHandle`). Pinning, model loading and the step
 * loop live in StageProcess; this file only wires IPC and shutdown.
 */
import { StageProcess } from './stage-process.js';
import { isToStage, type FromStage } from './protocol.js';

const send = (m: FromStage): void => {
  if (process.connected) process.send?.(m);
};

const stage = new StageProcess(send);

process.on('message', (m: unknown) => {
  if (!isToStage(m)) return;
  void stage.handle(m).then(() => {
    if (m.type === 'shutdown') setImmediate(() => process.exit(0));
  });
});

// The coordinator going away (crash or kill) must not leave orphaned stages behind.
process.on('disconnect', () => {
  stage.dispose();
  process.exit(0);
});

send({ type: 'started', pid: process.pid });
