#!/usr/bin/env node
// `npm test`: typecheck, build and the house rules (lint), then every suite on each Node version
// of scripts/test-nodes.json (installed by `npm run infra:up` into .run/node/<version>): unit,
// integration, e2e on the embedded mode, e2e on the distributed mode (the built services as
// processes on PostgreSQL, RabbitMQ and Kafka, plus test/distributed/), and the benchmark harness
// once per deployment at a small size. Each jest run writes .test-results/<node>/<suite>.json;
// the last line sums them up.
//
//   npm test                          everything, on every Node version
//   npm test -- unit,int              those suites only
//   npm test -- unit --node 24.21.0   on one Node version (or --node current: the one running npm)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const nodeFlag = args.indexOf('--node');
const nodeChoice = nodeFlag >= 0 ? args.splice(nodeFlag, 2)[1] : 'all';
const suites = (args[0] ?? 'unit,int,e2e,e2e-distributed,bench').split(',');

// suite -> jest project, extra arguments and environment
const runs = {
  unit: { project: 'unit', args: [] },
  int: { project: 'int', args: ['--runInBand'] },
  // test/distributed/ needs the distributed mode: the embedded run leaves it out.
  e2e: {
    project: 'e2e',
    args: ['--runInBand', '--testPathIgnorePatterns=/node_modules/', '--testPathIgnorePatterns=/test/distributed/'],
    env: { E2E_MODE: 'embedded' },
  },
  'e2e-distributed': { project: 'e2e', args: ['--runInBand'], env: { E2E_MODE: 'distributed' } },
  bench: 'bench',
};
const unknown = suites.filter((s) => !runs[s]);
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(runs).join(', ')}`);
  process.exit(2);
}

const matrix = JSON.parse(readFileSync('scripts/test-nodes.json', 'utf8')).versions;
const nodes =
  nodeChoice === 'current'
    ? [{ version: process.versions.node, bin: process.execPath }]
    : (nodeChoice === 'all' ? matrix : [nodeChoice]).map((version) => ({ version, bin: join('.run', 'node', version, 'node_modules', '.bin', 'node') }));

rmSync('.test-results', { recursive: true, force: true });
mkdirSync('.test-results', { recursive: true });

const run = (cmd, cmdArgs, env = process.env) => spawnSync(cmd, cmdArgs, { stdio: 'inherit', env }).status ?? 1;

const failedSteps = [];
for (const [name, cmd, cmdArgs] of [
  ['typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['build', 'npm', ['run', '--silent', 'build']],
  ['lint', 'npm', ['run', '--silent', 'lint']],
]) {
  console.log(`\n== ${name}`);
  if (run(cmd, cmdArgs) !== 0) failedSteps.push(name);
}

let passed = 0;
let failed = 0;
for (const node of nodes) {
  if (!existsSync(node.bin)) {
    failedSteps.push(`Node ${node.version} is not installed in ${dirname(dirname(dirname(node.bin)))} (npm run infra:up installs it)`);
    continue;
  }
  // Everything of this pass runs on this Node: jest, the services it starts, the bench.
  const env = { ...process.env, PATH: `${join(process.cwd(), dirname(node.bin))}:${process.env.PATH}` };
  const out = join('.test-results', node.version);
  mkdirSync(out, { recursive: true });
  for (const suite of suites) {
    console.log(`\n== ${suite} tests on Node ${node.version}`);
    if (runs[suite] === 'bench') {
      // The benchmark harness, once per deployment at a small size: it proves the harness works
      // and that nothing is lost under a mix of declines and stock failures. Not a speed check.
      for (const deployment of ['embedded', 'distributed']) {
        const file = join(out, `bench-${deployment}.json`);
        const benchArgs = ['bench/bench.ts', '--deployment', deployment, '--rate', '40', '--duration', '3', '--warmup', '1'];
        const status = run(
          node.bin,
          [join('node_modules', 'tsx', 'dist', 'cli.mjs'), ...benchArgs, '--decline', '0.1', '--stockout', '0.1', '--drain-timeout', '60', '--out', file],
          env,
        );
        if (status === 0 && existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).ok === true) passed++;
        else failedSteps.push(`bench smoke (${deployment}, Node ${node.version})`);
      }
      continue;
    }
    const file = join(out, `${suite}.json`);
    const { project, args: jestArgs, env: suiteEnv } = runs[suite];
    const jest = ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', 'node_modules/jest/bin/jest.js'];
    const status = run(node.bin, [...jest, '--selectProjects', project, ...jestArgs, '--forceExit', '--json', `--outputFile=${file}`], { ...env, ...suiteEnv });
    if (!existsSync(file)) {
      failedSteps.push(`${suite} on Node ${node.version} (no results)`);
      continue;
    }
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    // A suite file that failed to run (import error, hook failure) counts as a failure too.
    const brokenFiles = r.testResults.filter((t) => t.status === 'failed' && t.assertionResults.every((a) => a.status !== 'failed')).length;
    failed += brokenFiles;
    if (r.numTotalTests === 0) failedSteps.push(`${suite} on Node ${node.version} ran no test`);
    if (status !== 0 && r.numFailedTests + brokenFiles === 0) failedSteps.push(`${suite} on Node ${node.version} (exit ${status})`);
  }
}
if (failedSteps.length) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
failed += failedSteps.length;
console.log(`\nran on Node ${nodes.map((n) => n.version).join(' and ')}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
