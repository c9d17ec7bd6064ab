import { describe, expect, it } from '@jest/globals';
import { formatChaos, runChaos } from '../../bench/chaos.js';

// The short chaos run of CI: a real hub process and a real hearth-sim process, each SIGKILLed twice at
// seeded random moments under load and restarted at once, plus one simulator kill in the middle of the
// replay that follows a hub restart; every device's record (written before each frame
// is sent) against the hub's database. `npm run chaos` runs the long version (10 kills of each).
describe('chaos: SIGKILL of hub and simulator at seeded random moments [FP-8.1, FP-8.3, FP-8.7]', () => {
  it('loses no reading, stores none twice, reuses no seq, and recovers from each kill within its budget', async () => {
    const report = await runChaos({
      seed: 'ci',
      hubKills: 2,
      simKills: 2,
      replayKills: 1,
      rate: 10,
      loadMs: [1500, 3000],
      recoveryBudgetMs: { 'hub SIGKILL': 20_000, 'sim SIGKILL': 15_000, 'sim SIGKILL mid-replay': 15_000 },
    });
    const table = formatChaos(report);
    process.stdout.write(`${table}\n`);
    expect(report.rows.map((r) => r.fault).filter((f) => f !== 'none (load before the first fault)').sort()).toEqual(['hub SIGKILL', 'hub SIGKILL', 'sim SIGKILL', 'sim SIGKILL', 'sim SIGKILL mid-replay']);
    for (const row of report.rows.slice(1)) expect({ fault: row.fault, recovered: row.recoveredMs !== null }).toEqual({ fault: row.fault, recovered: true });
    expect(report.totals.generated).toBeGreaterThan(200);
    expect(report.totals.dropped).toBe(0);
    expect({ missing: report.totals.missing, duplicated: report.totals.duplicated, seqReuses: report.seqReuses }).toEqual({ missing: 0, duplicated: 0, seqReuses: 0 });
    expect(report.totals.stored).toBe(report.totals.generated);
    expect(report.simExitCode).toBe(0);
  }, 120_000);
});
