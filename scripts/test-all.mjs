#!/usr/bin/env node
// `npm test`: typecheck, build, then the unit, integration and e2e suites in turn, and the e2e
// suite once more against the distributed mode (the built services as processes on PostgreSQL
// and RabbitMQ, plus the recovery tests in test/distributed/). Each jest run writes its results
// to .test-results/<suite>.json; the last line sums them up.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';

const suites = (process.argv[2] ?? 'unit,int,e2e,e2e-distributed').split(',');

// suite -> jest project, extra arguments and environment
const runs = {
  unit: { project: 'unit', args: [] },
  int: { project: 'int', args: ['--runInBand'] },
  // test/distributed/ needs the distributed mode: the embedded run leaves it out.
  e2e: { project: 'e2e', args: ['--runInBand', '--testPathIgnorePatterns=/node_modules/', '--testPathIgnorePatterns=/test/distributed/'], env: { E2E_MODE: 'embedded' } },
  'e2e-distributed': { project: 'e2e', args: ['--runInBand'], env: { E2E_MODE: 'distributed' } },
};
const unknown = suites.filter((s) => !runs[s]);
if (unknown.length) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(runs).join(', ')}`);
  process.exit(2);
}
rmSync('.test-results', { recursive: true, force: true });
mkdirSync('.test-results', { recursive: true });

const run = (cmd, args, extraEnv = {}) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...extraEnv } }).status ?? 1;

let failedSteps = [];
for (const [name, cmd, args] of [
  ['typecheck', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']],
  ['build', 'npm', ['run', '--silent', 'build']],
]) {
  console.log(`\n== ${name}`);
  if (run(cmd, args) !== 0) failedSteps.push(name);
}

let passed = 0;
let failed = 0;
for (const suite of suites) {
  console.log(`\n== ${suite} tests`);
  const out = `.test-results/${suite}.json`;
  const { project, args, env } = runs[suite];
  const status = run('node', ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', 'node_modules/jest/bin/jest.js', '--selectProjects', project, ...args, '--forceExit', '--json', `--outputFile=${out}`], env);
  if (!existsSync(out)) {
    failedSteps.push(`${suite} (no results)`);
    continue;
  }
  const r = JSON.parse(readFileSync(out, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  // A suite file that failed to run (import error, hook failure) counts as a failure too.
  const brokenFiles = r.testResults.filter((t) => t.status === 'failed' && t.assertionResults.every((a) => a.status !== 'failed')).length;
  failed += brokenFiles;
  if (r.numTotalTests === 0) failedSteps.push(`${suite} ran no test`);
  if (status !== 0 && r.numFailedTests + brokenFiles === 0) failedSteps.push(`${suite} (exit ${status})`);
}
// The benchmark harness, once per deployment at a small size: it proves the harness works and
// that nothing is lost under a mix of declines and stock failures. Not a speed check.
if (suites.includes('e2e-distributed')) {
  for (const deployment of ['embedded', 'distributed']) {
    console.log(`\n== bench smoke (${deployment})`);
    const out = `.test-results/bench-${deployment}.json`;
    const status = run('npx', ['tsx', 'bench/bench.ts', '--deployment', deployment, '--rate', '40', '--duration', '3', '--warmup', '1', '--decline', '0.1', '--stockout', '0.1', '--drain-timeout', '60', '--out', out]);
    const ok = status === 0 && existsSync(out) && JSON.parse(readFileSync(out, 'utf8')).ok === true;
    if (ok) passed++;
    else failedSteps.push(`bench smoke (${deployment})`);
  }
}
if (failedSteps.length) console.log(`\nfailed steps: ${failedSteps.join(', ')}`);
failed += failedSteps.length;
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
