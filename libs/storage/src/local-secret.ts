import { randomBytes, randomUUID } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageConfigError } from './errors.js';
import { errnoOf } from './local-paths.js';

/**
 * Reads the URL-signing secret kept in the store's folder, creating it on first use. Every
 * process sharing the folder (API, gpu-hosts, CLI) thereby shares the secret with no setup;
 * creation is atomic (write a temp file, then hard-link it into place) so racing processes agree.
 */
export async function loadOrCreateSecret(file: string, tmpDir: string): Promise<Buffer> {
  try {
    return parseSecret(await readFile(file, 'utf8'), file);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  const tmp = path.join(tmpDir, `secret-${randomUUID()}`);
  await writeFile(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, file);
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return parseSecret(await readFile(file, 'utf8'), file);
}

function parseSecret(text: string, file: string): Buffer {
  const hex = text.trim();
  if (!/^[0-9a-f]{64,}$/.test(hex)) throw new StorageConfigError('urlSecret', `${file} does not hold a hex secret of ≥ 32 bytes`);
  return Buffer.from(hex, 'hex');
}
