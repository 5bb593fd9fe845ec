import type { S3Client } from '@aws-sdk/client-s3';
import type { ObjectStore } from './object-store.js';

/** The S3 store: an `ObjectStore` whose URLs are presigned GETs served by S3 itself. */
export interface S3ObjectStore extends ObjectStore {
  readonly kind: 's3';
  readonly bucket: string;
  /** The underlying client, for bucket administration in tools and tests. */
  readonly client: S3Client;
}
