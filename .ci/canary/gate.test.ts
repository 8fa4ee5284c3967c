import { expect, it } from 'vitest';

// Outside the suite's include pattern on purpose: `.ci/run` runs this file alone, with the suite's
// global setup (the database it starts), and stops unless the run fails. A gate that cannot go
// red checks nothing.
it('fails, so that the run must exit non-zero', () => {
  expect(1).toBe(2);
});
