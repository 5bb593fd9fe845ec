import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveLocalStoreOptions, resolveS3StoreOptions, resolveStorageOptions } from './options.js';

describe('resolveStorageOptions', () => {
  it('defaults to the local folder var/outputs under cwd', () => {
    expect(resolveStorageOptions({}, '/srv/app')).toEqual({
      kind: 'local',
      rootDir: path.resolve('/srv/app/var/outputs'),
      baseUrl: '/v1/files',
      urlSecret: null,
      urlExpiresInSec: 3600,
    });
  });

  it('reads the local variables', () => {
    const resolved = resolveStorageOptions(
      { STORAGE_DIR: '/data/out', STORAGE_BASE_URL: 'https://x.test/files/', STORAGE_URL_SECRET: 's'.repeat(40), STORAGE_URL_EXPIRES_SEC: '60' },
      '/srv',
    );
    expect(resolved).toMatchObject({ kind: 'local', rootDir: '/data/out', baseUrl: 'https://x.test/files', urlExpiresInSec: 60 });
  });

  it('switches to S3 when S3_BUCKET is set', () => {
    const resolved = resolveStorageOptions({
      S3_BUCKET: 'outputs',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
      S3_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 'secret',
    });
    expect(resolved).toMatchObject({
      kind: 's3',
      bucket: 'outputs',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
    expect(resolveStorageOptions({ S3_BUCKET: 'outputs', S3_FORCE_PATH_STYLE: 'false', S3_ENDPOINT: 'https://r2.test' })).toMatchObject({
      forcePathStyle: false,
      credentials: null,
      region: 'us-east-1',
    });
    expect(resolveStorageOptions({ S3_BUCKET: 'outputs' })).toMatchObject({ forcePathStyle: false, endpoint: null });
  });

  it('names the variable at fault', () => {
    const bad = (field: string) => expect.objectContaining({ code: 'STORAGE_INVALID_CONFIG', field });
    expect(() => resolveStorageOptions({ S3_BUCKET: 'b-1', AWS_ACCESS_KEY_ID: 'id' })).toThrow(bad('AWS_SECRET_ACCESS_KEY'));
    expect(() => resolveStorageOptions({ S3_BUCKET: 'b-1', S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(bad('S3_FORCE_PATH_STYLE'));
    expect(() => resolveStorageOptions({ STORAGE_URL_EXPIRES_SEC: '1h' })).toThrow(bad('STORAGE_URL_EXPIRES_SEC'));
    expect(() => resolveStorageOptions({ S3_BUCKET: 'Not_A_Bucket' })).toThrow(bad('bucket'));
    expect(() => resolveStorageOptions({ S3_BUCKET: 'b-1', S3_ENDPOINT: 'ftp://x' })).toThrow(bad('endpoint'));
    expect(() => resolveLocalStoreOptions({ urlSecret: 'short' })).toThrow(bad('urlSecret'));
    expect(() => resolveLocalStoreOptions({ baseUrl: 'files' })).toThrow(bad('baseUrl'));
    expect(() => resolveS3StoreOptions({ bucket: 'b-1', partSizeBytes: 1024 })).toThrow(bad('partSizeBytes'));
  });
});
