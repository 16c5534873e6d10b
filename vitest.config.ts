import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests import workspace packages from their TypeScript sources, so a unit test needs no build;
// system tests in test/ spawn the built daemons (npm test builds first).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@pantau\/contract$/, replacement: here('./contract/src/index.ts') },
      { find: /^@pantau\/config$/, replacement: here('./config/src/index.ts') },
      { find: /^@pantau\/collectors\/(.*)$/, replacement: here('./collectors/$1/index.ts') },
      { find: /^@pantau\/broker\/store$/, replacement: here('./broker/src/store/index.ts') },
      { find: /^@pantau\/broker\/backbone$/, replacement: here('./broker/src/backbone/index.ts') },
      { find: /^@pantau\/broker\/enroll$/, replacement: here('./broker/src/enroll/index.ts') },
      { find: /^@pantau\/broker$/, replacement: here('./broker/src/index.ts') },
      { find: /^@pantau\/gateway$/, replacement: here('./gateway/src/index.ts') },
      { find: /^@pantau\/dashboard$/, replacement: here('./dashboard/src/index.ts') },
    ],
  },
  test: {
    include: [
      'contract/src/**/*.test.ts',
      'config/src/**/*.test.ts',
      'collectors/**/*.test.ts',
      'gateway/src/**/*.test.ts',
      'broker/src/**/*.test.ts',
      'dashboard/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
