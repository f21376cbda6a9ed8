/**
 * The process shell shared by the long-running components that take `[--kubeconfig FILE]` and
 * their configuration from the environment (`pcapper agent`, `pcapper server`): argv, kubeconfig,
 * and running until SIGTERM/SIGINT. Exit codes: 0 after a signal, 1 when start or stop fails,
 * 2 on bad usage or configuration.
 */
import type * as k8s from '@kubernetes/client-node';
import { loadKubeConfig } from '../k8s/client.js';
import type { Logger } from '../telemetry/log.js';
import { bool, parseArgs, str, type CommandSpec } from '../cli/args.js';
import { UsageError } from '../cli/errors.js';

/** `[--kubeconfig FILE | --kubeconfig=FILE] [-h]`: the kubeconfig path, or an exit code. */
export function componentArgs(name: string, usage: string, argv: readonly string[]): { kubeconfig: string | undefined } | number {
  const spec: CommandSpec = {
    name,
    summary: '',
    usage,
    globalFlags: false,
    maxArgs: 0,
    flags: [
      { name: 'kubeconfig', type: 'string', value: 'FILE', help: 'kubeconfig (default: in-cluster, else $KUBECONFIG, else ~/.kube/config)' },
      { name: 'help', short: 'h', type: 'boolean', help: 'show this help' },
    ],
  };
  let parsed;
  try {
    parsed = parseArgs(spec, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`pcapper ${name}: ${e.message}\n${usage}`);
    return 2;
  }
  if (bool(parsed, 'help')) {
    process.stdout.write(usage);
    return 0;
  }
  return { kubeconfig: str(parsed, 'kubeconfig') };
}

/** In-cluster config, or KUBECONFIG / --kubeconfig; one line and exit code 2 when unusable. */
export function componentKubeConfig(name: string, kubeconfig: string | undefined): k8s.KubeConfig | number {
  try {
    return loadKubeConfig({ kubeconfig, kubeconfigEnv: process.env['KUBECONFIG'] });
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`pcapper ${name}: ${err.message}${err.cause ? `: ${String((err.cause as Error).message)}` : ''}\n`);
    return 2;
  }
}

/** Starts `c`, then runs until SIGTERM/SIGINT and stops it. */
export async function runUntilSignal(
  name: string,
  log: Logger,
  c: { start(): Promise<void>; stop(): Promise<void>; /** after a failed start */ abort(): Promise<void> },
): Promise<number> {
  try {
    await c.start();
  } catch (e) {
    log.error(`${name} failed to start`, { err: e });
    await c.abort().catch(() => undefined);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal: sig });
      c.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('stop failed', { err });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
