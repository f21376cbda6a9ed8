/**
 * Glue between the table-driven parser and a command body: parses argv, answers `--help`, turns
 * every error into one `error: ...` line and an exit code.
 */
import { formatHelp, parseArgs, str, bool, type CommandSpec, type ParsedArgs } from './args.js';
import { reportError } from './errors.js';
import { EXIT, type CliIo, type CommandRun } from './io.js';
import { loadKube, type KubeContext } from './kube.js';

export interface Command {
  readonly spec: CommandSpec;
  readonly run: CommandRun;
}

export function defineCommand(spec: CommandSpec, body: (p: ParsedArgs, io: CliIo) => Promise<number>): Command {
  return {
    spec,
    run: async (argv, io) => {
      try {
        const p = parseArgs(spec, argv);
        if (bool(p, 'help')) {
          io.stdout.write(`${formatHelp(spec)}\n`);
          return EXIT.ok;
        }
        return await body(p, io);
      } catch (err) {
        return reportError(io, err);
      }
    },
  };
}

/** Loads the kubeconfig named by the global flags. */
export function kubeFrom(p: ParsedArgs, io: CliIo): KubeContext {
  return loadKube({ kubeconfig: str(p, 'kubeconfig'), context: str(p, 'context'), cluster: str(p, 'cluster'), user: str(p, 'user'), namespace: str(p, 'namespace') }, io.env);
}
