import { abandonedRuns, cleanTestRun, testRunId } from './test-run';

/** Once per jest run: give the run its id, and remove what killed runs left behind. */
export default async function globalSetup(): Promise<void> {
  testRunId();
  for (const runId of abandonedRuns()) {
    const removed = await cleanTestRun(runId).catch((error: Error) => [`(failed: ${error.message})`]);
    if (removed.length) process.stderr.write(`test run ${runId} was killed before its cleanup; removed ${removed.length} leftovers\n`);
  }
}
