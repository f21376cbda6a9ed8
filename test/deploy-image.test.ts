/**
 * The Dockerfile, without a container engine (these machines have none, so the image itself is
 * never built here). Two checks:
 * - structure: every COPY source exists and survives .dockerignore, every COPY --from names an
 *   earlier stage, the runtime stage installs tcpdump and util-linux, runs as a non-root user and
 *   its ENTRYPOINT `pcapper` is a link the build creates to a file the build produces;
 * - replay: the build and deps stages' COPY and RUN steps run for real in scratch directories
 *   (npm ci, tsc, npm ci --omit=dev), the runtime stage's COPY steps assemble /app, and the entry
 *   point then runs with production dependencies only (`pcapper version`, and `--help` of every
 *   subcommand the chart runs, which imports each component's whole module graph).
 * What this cannot show: that the base image, apt and the final layers behave as on a real build.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from './harness/paths.js';
import { helmTemplate, parseManifests } from './tools/helm.js';

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

/** Dockerfile -> stages of instructions (comments dropped, `\` continuations joined). */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i] ?? '';
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = l.slice(0, -1) + ' ' + (lines[++i] ?? '').trim();
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${l}"`);
    const op = (m[1] ?? '').toUpperCase();
    const rest = (m[2] ?? '').trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args.set(k ?? '', v ?? '');
      continue;
    }
    if (op === 'FROM') {
      const fm = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!fm) throw new Error(`Dockerfile line ${start + 1}: bad FROM`);
      const from = (fm[1] ?? '').replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? '');
      stages.push({ name: fm[2] ?? `#${stages.length}`, from, steps: [] });
      continue;
    }
    const st = stages.at(-1);
    if (!st) throw new Error(`Dockerfile line ${start + 1}: ${op} before FROM`);
    st.steps.push({ op, args: rest, line: start + 1 });
  }
  return { args, stages };
}

/** .dockerignore as the Dockerfile uses it: `*`, then `!path` re-includes, then `**` excludes. */
function contextIncludes(rel: string, ignore: string): boolean {
  let included = true;
  for (const raw of ignore.split('\n')) {
    const p = raw.trim();
    if (p === '' || p.startsWith('#')) continue;
    const neg = p.startsWith('!');
    const pat = (neg ? p.slice(1) : p).replace(/\/$/, '');
    const re = new RegExp(
      '^' +
        pat
          .split('/')
          .map((seg) => (seg === '**' ? '.*' : seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')))
          .join('/')
          .replace(/\.\*\//g, '(?:.*/)?') +
        '(/.*)?$',
    );
    if (re.test(rel)) included = neg;
  }
  return included;
}

function copyArgs(step: Instruction): { from: string | undefined; sources: string[]; dest: string } {
  const parts = step.args.split(/\s+/);
  let from: string | undefined;
  while (parts[0]?.startsWith('--')) {
    const f = parts.shift() ?? '';
    if (f.startsWith('--from=')) from = f.slice('--from='.length);
  }
  const dest = parts.pop() ?? '';
  return { from, sources: parts, dest };
}

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const root = repoRoot();
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const dockerignore = readFileSync(join(root, '.dockerignore'), 'utf8');
const parsed = parseDockerfile(dockerfile);
const runtime = parsed.stages.at(-1);

describe('Dockerfile (structure; build replayed without a container engine)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'pcapper-image-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('multi-stage on the current Node LTS, slim; every COPY source is in the build context, every --from an earlier stage', () => {
    assert.ok(parsed.stages.length >= 2, 'multi-stage');
    // The image runs on the LTS line that .ci/run tests on (the unit tests run there too).
    const lts = readFileSync(join(root, '.ci', 'node-lts'), 'utf8').trim();
    const major = /^(\d+)\.\d+\.\d+$/.exec(lts)?.[1];
    assert.ok(major, `.ci/node-lts must hold a version like 26.12.1, got "${lts}"`);
    for (const s of parsed.stages) assert.match(s.from, new RegExp(`^node:${major}(\\.\\d+)*-[a-z]+-slim$`), `stage ${s.name} FROM ${s.from}: use node:${major}-<debian>-slim (.ci/node-lts)`);
    const seen = new Set<string>();
    for (const s of parsed.stages) {
      for (const step of s.steps.filter((x) => x.op === 'COPY' || x.op === 'ADD')) {
        assert.equal(step.op, 'COPY', `line ${step.line}: use COPY`);
        const c = copyArgs(step);
        if (c.from !== undefined) {
          assert.ok(seen.has(c.from), `line ${step.line}: --from=${c.from} is not an earlier stage`);
          continue;
        }
        for (const src of c.sources) {
          assert.ok(existsSync(join(root, src)), `line ${step.line}: COPY source ${src} does not exist`);
          assert.ok(contextIncludes(src, dockerignore), `line ${step.line}: ${src} is excluded by .dockerignore`);
        }
      }
      seen.add(s.name);
    }
    assert.ok(!contextIncludes('node_modules', dockerignore) && !contextIncludes('dist', dockerignore) && !contextIncludes('.git', dockerignore));
    assert.ok(!contextIncludes('src/pcap/reader.test.ts', dockerignore), 'unit tests stay out of the image');
  });

  it('runtime stage: tcpdump + util-linux from apt, non-root USER, ENTRYPOINT pcapper linked to the built entry point', () => {
    assert.ok(runtime);
    const runs = runtime.steps.filter((s) => s.op === 'RUN').map((s) => s.args).join('\n');
    assert.match(runs, /apt-get install -y --no-install-recommends[^\n]*\btcpdump\b/);
    assert.match(runs, /apt-get install[^\n]*\butil-linux\b/);
    assert.match(runs, /rm -rf \/var\/lib\/apt\/lists/);
    const user = runtime.steps.filter((s) => s.op === 'USER').at(-1)?.args ?? '';
    assert.match(user, /^[1-9][0-9]*(:[1-9][0-9]*)?$/, `final USER must be a non-root uid, got "${user}"`);
    const entry = runtime.steps.filter((s) => s.op === 'ENTRYPOINT').at(-1)?.args ?? '';
    assert.deepEqual(JSON.parse(entry), ['pcapper']);
    const link = /ln -s (\S+) \/usr\/local\/bin\/pcapper\b/.exec(runs);
    assert.ok(link, 'the runtime stage puts pcapper on PATH');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.equal(link[1], `/app/${pkg.bin.pcapper}`, 'the link points at package.json bin.pcapper');
  });

  it('replays the build: npm ci + tsc, production-only dependencies, then `pcapper` runs from the assembled /app', async () => {
    const dirOf = new Map<string, string>();
    // Absolute image paths each stage's WORKDIR maps to in the scratch area.
    const imagePath = (stage: string, abs: string, workdirs: Map<string, string>): string => {
      const wd = workdirs.get(stage) ?? '/';
      const p = abs.startsWith('/') ? abs : join(wd, abs);
      return join(scratch, stage.replace(/[^A-Za-z0-9]/g, '_'), p);
    };
    const workdirs = new Map<string, string>();
    for (const s of parsed.stages) {
      dirOf.set(s.name, join(scratch, s.name.replace(/[^A-Za-z0-9]/g, '_')));
      for (const step of s.steps) {
        if (step.op === 'WORKDIR') {
          workdirs.set(s.name, step.args);
          mkdirSync(imagePath(s.name, step.args, workdirs), { recursive: true });
        } else if (step.op === 'COPY') {
          const c = copyArgs(step);
          for (const src of c.sources) {
            const from = c.from === undefined ? join(root, src) : imagePath(c.from, src, workdirs);
            const to = imagePath(s.name, c.dest, workdirs);
            const target = c.dest.endsWith('/') ? join(to, src.split('/').pop() ?? src) : to;
            mkdirSync(dirname(target), { recursive: true });
            cpSync(from, target, {
              recursive: true,
              // The build context is what .dockerignore lets through.
              filter: (f) => c.from !== undefined || contextIncludes(relative(root, f), dockerignore),
            });
          }
        } else if (step.op === 'RUN' && s !== runtime) {
          // Build and deps stages run for real; the runtime stage's apt-get and /usr/local/bin links
          // would change this machine, so they are checked structurally above instead.
          const r = await run('sh', ['-ec', step.args.replace(/npm ci /g, 'npm ci --prefer-offline ')], imagePath(s.name, workdirs.get(s.name) ?? '/', workdirs));
          assert.equal(r.code, 0, `stage ${s.name}, Dockerfile line ${step.line} failed:\n${r.stderr.slice(-3000)}`);
        }
      }
    }
    const app = imagePath(runtime?.name ?? '', '/app', workdirs);
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    // Production dependencies only: nothing the lockfile marks dev-only (typescript, eslint, ...).
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([p, e]) => p.startsWith('node_modules/') && e.dev === true).map(([p]) => p);
    assert.ok(devOnly.includes('node_modules/typescript'));
    for (const p of devOnly) assert.ok(!existsSync(join(app, p)), `dev-only ${p} is not in the image`);
    assert.ok(existsSync(join(app, 'node_modules', '@kubernetes', 'client-node')));
    const entry = join(app, pkg.bin.pcapper ?? '');
    assert.ok(existsSync(entry), `${pkg.bin.pcapper} is produced by the build`);
    assert.ok((statSync(entry).mode & 0o111) !== 0, 'the entry point is executable');
    assert.match(readFileSync(entry, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.deepEqual(
      readdirSync(join(app, 'dist', 'src'), { recursive: true }).filter((f) => String(f).endsWith('.test.js')),
      [],
      'no unit tests in the image',
    );
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', NODE_ENV: 'production', HOME: scratch };
    const v = await run(entry, ['version'], app, env);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^pcapper \d+\.\d+\.\d+/);
    // Every command the chart runs (the first arg of each workload's container) is in the image.
    const commands = parseManifests(await helmTemplate())
      .filter((m) => m.kind === 'Deployment' || m.kind === 'DaemonSet')
      .map((m) => (m as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } }).spec.template.spec.containers[0]?.args[0] ?? '')
      .sort();
    assert.deepEqual(commands, ['agent', 'controller', 'server']);
    for (const cmd of commands) {
      const h = await run(entry, [cmd, '--help'], app, env);
      assert.equal(h.code, 0, `pcapper ${cmd} --help with production dependencies only:\n${h.stderr}`);
      assert.match(h.stdout, new RegExp(`usage: pcapper ${cmd}`));
    }
  });
});
