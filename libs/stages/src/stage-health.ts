import type { ControlBlock } from './control-block.js';
import type { StageHandle } from './stage-handle.js';

/**
 * The health check behind `ProcessRunner.checkHealth`: one real inference per live stage at its
 * bound shapes, in turn. A stage that fails or hangs is killed (and awaited until gone), so the
 * runner's `recover()` replaces it; returns the devices of dead stages. `control` is the runner's
 * current control block (undefined before the first generation), whose last run times bound the wait.
 */
export async function checkStageHealth(handles: readonly StageHandle[], control: () => ControlBlock | undefined, timeoutMs: number): Promise<readonly number[]> {
  const dead: number[] = [];
  for (const stage of handles) {
    if (!stage.alive()) {
      dead.push(stage.device);
      continue;
    }
    try {
      // A health check is one inference at the bound shapes: give a big model's stage (seconds
      // per run on a CPU host) three of its last runs' time before calling it hung.
      const ctl = control();
      const lastRunMs = ctl ? ctl.done(stage.device).runUs / 1000 : 0;
      await stage.health(Math.max(timeoutMs, Math.ceil(3 * lastRunMs)));
    } catch {
      dead.push(stage.device);
      stage.child.kill('SIGKILL');
      await new Promise<void>((resolve) => (stage.alive() ? stage.onExitOnce(() => resolve()) : resolve()));
    }
  }
  return dead;
}
