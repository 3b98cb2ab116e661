#!/usr/bin/env node
// CLI entry: `npx metaanchor <command>`. The library is TypeScript run through tsx,
// the same sources the notebooks import, so there is no build step to forget.
'use strict';
require('tsx/cjs');
require('../lib/cli/main.ts').main(process.argv).catch((err) => {
  const { formatError } = require('../lib/util/errors.ts');
  process.stderr.write(formatError(err) + '\n');
  process.exit(1);
});
