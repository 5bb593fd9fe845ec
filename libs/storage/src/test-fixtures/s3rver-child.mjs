// Runs s3rver in its own process. Started with --openssl-legacy-provider because s3rver 3.7
// encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers there
// (without it every truncated listing answers HTTP 500). Prints {"port":N} once listening and
// exits when its stdin closes, so it never outlives the test process.
import S3rver from 's3rver';

const directory = process.argv[2];
if (!directory) throw new Error('usage: s3rver-child.mjs <directory>');
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
const stop = () => {
  server.close().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
