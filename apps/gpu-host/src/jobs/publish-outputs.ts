import { outputKey, sidecarKey, type JobOutput } from '@asyncdiff/queue';
import type { ObjectStore } from '@asyncdiff/storage';

import type { EncodedOutput } from './encode-outputs.js';
import { sidecarBytes, type JobSidecar } from './sidecar.js';

/**
 * Uploads a job's files under deterministic keys (`outputKey(jobId, i, ext)`), so a retried or
 * re-delivered job overwrites its earlier uploads instead of adding new ones. `beforeEach` runs
 * before every file and stops the upload by throwing (the run lost its job meanwhile).
 */
export async function uploadOutputs(store: ObjectStore, jobId: string, files: readonly EncodedOutput[], metadata: Record<string, string>, beforeEach: () => void = () => undefined): Promise<JobOutput[]> {
  const out: JobOutput[] = [];
  for (const f of files) {
    beforeEach();
    const key = outputKey(jobId, f.index, f.ext);
    const put = await store.put(key, f.body, { contentType: f.contentType, metadata });
    out.push({ key, contentType: f.contentType, bytes: put.bytes, sha256: put.sha256, kind: f.kind });
  }
  return out;
}

/** Uploads the JSON sidecar (`sidecarKey(jobId)`), last, so it lists the outputs it describes. */
export async function uploadSidecar(store: ObjectStore, sidecar: JobSidecar, metadata: Record<string, string>): Promise<JobOutput> {
  const key = sidecarKey(sidecar.jobId);
  const put = await store.put(key, sidecarBytes(sidecar), { contentType: 'application/json', metadata });
  return { key, contentType: 'application/json', bytes: put.bytes, sha256: put.sha256, kind: 'sidecar' };
}
