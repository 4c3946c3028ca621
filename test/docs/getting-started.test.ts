import { resolve } from 'node:path';
import { test } from 'node:test';
import { root } from '../packaging/process-helpers.js';
import { runQuickStart } from './quick-start.js';

test('docs/getting-started.md runs as written', () =>
  runQuickStart({ mainJs: resolve(root, 'dist/cli/main.js') }));
