import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The suites start real HTTP servers and child processes; files run in
    // parallel workers, tests inside a file run one after another.
    pool: 'forks',
  },
});
