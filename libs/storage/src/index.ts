/**
 * @asyncdiff/storage — where generated outputs live: a local folder by default (served by the
 * API through signed, expiring URLs) or any S3-compatible bucket (presigned URLs).
 */
export type {
  HeadResult,
  ListedObject,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectStore,
  ObjectStoreKind,
  PutOptions,
  PutResult,
  UrlOptions,
} from './object-store.js';
export type { LocalObjectStore } from './local-object-store.js';
export type { S3ObjectStore } from './s3-object-store.js';
export { createLocalObjectStore, createObjectStore, createS3ObjectStore } from './create-store.js';
export {
  MIN_PART_SIZE_BYTES,
  resolveLocalStoreOptions,
  resolveS3StoreOptions,
  resolveStorageOptions,
  type LocalStoreOptions,
  type ResolvedLocalStoreOptions,
  type ResolvedS3StoreOptions,
  type ResolvedStorageOptions,
  type S3Credentials,
  type S3StoreOptions,
  type StorageEnv,
} from './options.js';
export { MAX_KEY_BYTES, MAX_SEGMENT_BYTES, outputKey, RESERVED_SEGMENT, validateKey, validatePrefix } from './keys.js';
export { MAX_LIST_LIMIT, MAX_URL_EXPIRES_SEC } from './arguments.js';
export { encodeKeyPath, signLocalUrl, verifyLocalUrl, type SignLocalUrlInput, type VerifiedLocalUrl, type VerifyLocalUrlOptions } from './local-url.js';
export {
  InvalidArgumentError,
  InvalidKeyError,
  KeyConflictError,
  LocalUrlError,
  ObjectNotFoundError,
  PathEscapeError,
  StorageBackendError,
  StorageConfigError,
  StorageError,
  type InvalidKeyReason,
  type LocalUrlErrorCode,
  type StorageErrorCode,
} from './errors.js';
