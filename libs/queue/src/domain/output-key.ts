import { InvalidArgumentError } from './errors.js';
import { isJobId } from './job-id.js';

const EXT = /^[a-z0-9]{1,10}$/;

/**
 * The storage key of output number `index` of a job: `jobs/<jobId>/<index, 4 digits>.<ext>`
 * (the same layout as `@asyncdiff/storage`'s `outputKey`). Deterministic, so a retried or
 * re-delivered job overwrites its earlier uploads instead of adding new ones.
 */
export function outputKey(jobId: string, index: number, ext: string): string {
  if (!isJobId(jobId)) throw new InvalidArgumentError('jobId', `${JSON.stringify(jobId)} is not a job id`);
  if (!Number.isSafeInteger(index) || index < 0 || index > 9999) throw new InvalidArgumentError('index', `${index} must be an integer 0…9999`);
  if (!EXT.test(ext)) throw new InvalidArgumentError('ext', `${JSON.stringify(ext)} must match ${EXT.source} (no dot)`);
  return `jobs/${jobId}/${String(index).padStart(4, '0')}.${ext}`;
}

/** Key of a job's JSON sidecar (model, prompt, seed, parallel config, timings). */
export function sidecarKey(jobId: string): string {
  return outputKey(jobId, 0, 'json').replace(/0000\.json$/, 'job.json');
}
