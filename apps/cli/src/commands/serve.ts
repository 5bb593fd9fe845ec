import { apiOptionsFromEnv, startApi, storageDeps, type ApiServer } from '@asyncdiff/api';
import { gpuHostOptionsFromEnv, startGpuHost, type GpuHost } from '@asyncdiff/gpu-host';
import { createObjectStore, resolveStorageOptions } from '@asyncdiff/storage';

import { boolFlag, intFlag, parseFlags, stringFlag } from '../args.js';
import { resolveRedis } from '../serve/redis.js';

export const serveHelp = `asyncdiff serve [--port 8080] [--host 127.0.0.1] [--no-gpu-host] [--no-api]   (npm start)

Runs the whole service on this machine with embedded defaults: Redis from REDIS_URL, else
127.0.0.1:6379 if it answers, else a private redis-server (data in var/redis); outputs in a local
folder (var/outputs, served by the API behind signed URLs) unless S3_BUCKET is set; the shipped
models; one GPU host whose devices are this machine's GPUs (nvidia-smi) or CPU core groups.
Every setting of the API and GPU host can also come from the environment (infra/systemd/asyncdiff.env.example).`;

/** `asyncdiff serve`: API + GPU host + storage in one process, stopped cleanly by Ctrl-C/SIGTERM. */
export async function serveCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const f = parseFlags(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    'no-gpu-host': { type: 'boolean' },
    'no-api': { type: 'boolean' },
  });
  const env = process.env;
  const apiEnv = apiOptionsFromEnv(env);
  const port = intFlag(f, 'port', apiEnv.port ?? 8080, 1, 65_535);
  const host = stringFlag(f, 'host') ?? apiEnv.host ?? '127.0.0.1';
  const log = (s: string): void => {
    process.stderr.write(`serve: ${s}\n`);
  };
  const redis = await resolveRedis(env, 'var', log);
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
      api = await startApi({ ...apiEnv, port, host, queue: { ...apiEnv.queue, connection: redis.url }, ...storageDeps(store) });
    }
    if (!boolFlag(f, 'no-gpu-host')) {
      gpuHost = await startGpuHost({ ...gpuHostOptionsFromEnv(env), connection: redis.url, storage: store, onError: (e) => log(`gpu-host: ${(e as Error).message}`) });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  out(`asyncdiff serving (Redis ${redis.url} [${redis.origin}], storage ${storageOptions.kind === 'local' ? storageOptions.rootDir : `s3://${storageOptions.bucket}`})`);
  if (api) {
    out(`  API        ${api.url}/v1/jobs`);
    out(`  docs       ${api.url}/openapi.json`);
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
