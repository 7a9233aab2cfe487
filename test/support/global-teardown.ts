import { cleanTestRun, hasRecord, testRunId } from './test-run';

/**
 * Once per jest run, after every test, however they ended: remove this run's broker objects,
 * Kafka topics and groups, and databases. A test that failed or timed out before its own
 * afterAll cleaned up leaves nothing behind.
 */
export default async function globalTeardown(): Promise<void> {
  const runId = testRunId();
  if (!hasRecord(runId)) return;
  const removed = await cleanTestRun(runId);
  if (removed.length)
    process.stderr.write(
      `test run ${runId}: removed ${removed.length} leftovers a test did not clean up (${removed.slice(0, 5).join(', ')}${removed.length > 5 ? ', ...' : ''})\n`,
    );
}
