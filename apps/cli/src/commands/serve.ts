import { apiOptionsFromEnv, assertSafeBind, keysConfigured, resolveApiOptions, startApi, storageDeps, type ApiServer } from '@asyncdiff/api';
import { gpuHostOptionsFromEnv, startGpuHost, type GpuHost } from '@asyncdiff/gpu-host';
import { createObjectStore, resolveStorageOptions } from '@asyncdiff/storage';

import { boolFlag, intFlag, parseFlags, stringFlag } from '../args.js';
import { CliUsageError } from '../cli-error.js';
import { resolveRedis } from '../serve/redis.js';

export const serveHelp = `asyncdiff serve [--port 8080] [--host 127.0.0.1] [--no-gpu-host] [--no-api] [--private-redis] [--insecure]   (npm start)

Runs the whole service on this machine with embedded defaults: Redis from REDIS_URL (or a
Redis Cluster from REDIS_CLUSTER_NODES, a Sentinel master from REDIS_SENTINELS), else
127.0.0.1:6379 if it answers, else (or always, with --private-redis) a private redis-server:
127.0.0.1 only, a random password, AOF on, data in var/redis, stopped with serve even when serve
is killed. Outputs in a local folder (var/outputs, served by the API behind signed URLs) unless
S3_BUCKET is set; the shipped models; one GPU host whose devices are this machine's GPUs (nvidia-smi) or CPU core groups.
Without API_KEYS (or API_ADMIN_KEYS) it only listens on a loopback address; --insecure (or
API_INSECURE=1) lets it listen elsewhere anyway, open to anyone who can reach the port.
Every setting of the API and GPU host can also come from the environment (infra/systemd/asyncdiff.env.example).`;

/** `asyncdiff serve`: API + GPU host + storage in one process, stopped cleanly by Ctrl-C/SIGTERM. */
export async function serveCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const f = parseFlags(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    'no-gpu-host': { type: 'boolean' },
    'no-api': { type: 'boolean' },
    insecure: { type: 'boolean' },
    'private-redis': { type: 'boolean' },
  });
  const env = process.env;
  const apiEnv = apiOptionsFromEnv(env);
  const port = intFlag(f, 'port', apiEnv.port ?? 8080, 1, 65_535);
  const host = stringFlag(f, 'host') ?? apiEnv.host ?? '127.0.0.1';
  const insecure = boolFlag(f, 'insecure') || (apiEnv.insecure ?? false);
  // Decided before anything starts: no Redis, no port, no GPU host for a refused address.
  if (!boolFlag(f, 'no-api')) {
    try {
      assertSafeBind(host, keysConfigured(resolveApiOptions(apiEnv)), insecure, '--insecure');
    } catch (e) {
      throw new CliUsageError('--host', (e as Error).message);
    }
  }
  const log = (s: string): void => {
    process.stderr.write(`serve: ${s}\n`);
  };
  const redis = await resolveRedis(env, 'var', log, { forcePrivate: boolFlag(f, 'private-redis') });
  const publicHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const storageOptions = resolveStorageOptions({ STORAGE_BASE_URL: `http://${publicHost}:${port}/v1/files`, ...env });
  const store = createObjectStore(storageOptions);
  let api: ApiServer | undefined;
  let gpuHost: GpuHost | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log('draining: the GPU host hands running jobs back, then everything stops');
      for (const step of [() => gpuHost?.close(), () => api?.close(), () => store.close(), () => redis.close()]) {
        try {
          await step();
        } catch (e) {
          log(`shutdown step failed: ${(e as Error).message}`);
        }
      }
    })();
    return stopping;
  };
  try {
    if (!boolFlag(f, 'no-api')) {
      api = await startApi({ ...apiEnv, port, host, insecure, queue: { ...apiEnv.queue, connection: redis.connection }, ...storageDeps(store) });
    }
    if (!boolFlag(f, 'no-gpu-host')) {
      gpuHost = await startGpuHost({ ...gpuHostOptionsFromEnv(env), connection: redis.connection, storage: store, log: (m) => log(`gpu-host: ${m}`), onError: (e) => log(`gpu-host: ${(e as Error).message}`) });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  out(`asyncdiff serving (Redis ${redis.display} [${redis.origin}], storage ${storageOptions.kind === 'local' ? storageOptions.rootDir : `s3://${storageOptions.bucket}`})`);
  if (api) {
    out(`  API        ${api.url}/v1/jobs`);
    out(`  docs       ${api.url}/docs (OpenAPI: ${api.url}/openapi.json)`);
    out(`  dashboard  ${api.url}/dashboard`);
    out(`  metrics    ${api.url}/metrics`);
  }
  if (gpuHost) out(`  GPU host   ${gpuHost.hostId}: ${gpuHost.devices.length} device(s) from ${gpuHost.deviceSource}, groups ${gpuHost.groups.map((g) => `[${g.devices.join(' ')}]`).join(' ')}`);
  out(`try: curl -s -X POST ${api?.url ?? 'http://127.0.0.1:8080'}/v1/jobs -H 'content-type: application/json' -d '{"type":"image","model":"digits","prompt":"7"}'`);
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) process.exit(1);
      log(`${sig}: stopping (again to force)`);
      void stop().then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
