#!/usr/bin/env node
import { CliUsageError } from './cli-error.js';
import { benchCommand, benchHelp } from './commands/bench.js';
import { evalCommand, evalHelp } from './commands/eval.js';
import { generateCommand, generateHelp } from './commands/generate.js';
import { planCommand, planHelp } from './commands/plan.js';
import { serveCommand, serveHelp } from './commands/serve.js';
import { splitCommand, splitHelp } from './commands/split.js';

const usage = `asyncdiff <command> [flags]

Commands:
  generate   generate images or a video locally (no Redis), sequential or AsyncDiff
  serve      run the whole service on this machine (API + GPU host + storage)
  split      cut a denoiser ONNX into N balanced stage graphs
  plan       print an AsyncDiff schedule
  bench      benchmark sequential vs AsyncDiff (latency, quality, memory)
  eval       measure generation quality with the evaluation classifier

Run "asyncdiff <command> --help" for a command's flags.`;

type Command = { help: string; run: (argv: string[], out: (s: string) => void) => void | Promise<void> };

async function loadCommands(): Promise<Record<string, Command>> {
  return {
    bench: { help: benchHelp, run: benchCommand },
    eval: { help: evalHelp, run: evalCommand },
    generate: { help: generateHelp, run: generateCommand },
    plan: { help: planHelp, run: planCommand },
    serve: { help: serveHelp, run: serveCommand },
    split: { help: splitHelp, run: splitCommand },
  };
}

/** Entry point: dispatches a sub-command; usage errors exit 2 naming the flag, failures exit 1. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const out = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage);
    return name ? 0 : 2;
  }
  const commands = await loadCommands();
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`asyncdiff: unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(cmd.help);
    return 0;
  }
  try {
    await cmd.run(rest, out);
    return 0;
  } catch (e) {
    if (e instanceof CliUsageError) {
      process.stderr.write(`asyncdiff ${name}: ${e.message.startsWith(e.flag) ? '' : `${e.flag}: `}${e.message}\n`);
      return 2;
    }
    const err = e as Error & { code?: string; field?: string };
    if (err.field && err.code && !('retryable' in err && err.retryable)) {
      // Validation errors from the libs name a field; map it to its flag.
      process.stderr.write(`asyncdiff ${name}: --${toFlag(err.field)}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`asyncdiff ${name}: ${err.code ? `[${err.code}] ` : ''}${err.message}\n`);
    return 1;
  }
}

function toFlag(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`asyncdiff: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
