// Writes npm_ranges.json: what the real node-semver says for each range below, so test_npm_ranges.py can hold
// tagpin's ranges to it. Regenerate (node-semver 7.x, any directory outside the project):
//   cd "$(mktemp -d)" && npm install semver@7 && node /path/to/tests/domain/gen_npm_ranges.js \
//     > /path/to/tests/domain/npm_ranges.json
// tagpin's `prerelease: true` is npm's {includePrerelease: true}; with `prerelease: false` no prerelease is a
// candidate at all, so only release versions are asked without the option.
"use strict";
const semver = require(require.resolve("semver", { paths: [process.cwd()] }));
const pkg = require(require.resolve("semver/package.json", { paths: [process.cwd()] }));

const RANGES = [
  // tilde, caret and x-ranges on every precision: partial lower bounds start at -0 with includePrerelease
  "~1", "~1.4", "~1.4.x", "~1.4.2", "~1.4.2-rc.1", "~0", "~0.0", "~0.2", "~0.2.3", "~>1.4",
  "^1", "^1.4", "^1.4.x", "^1.2.3", "^1.2.3-rc.1", "^0", "^0.0", "^0.0.x", "^0.0.0", "^0.0.3", "^0.2",
  "^0.2.3", "^0.2.3-rc.1", "^1.x",
  "1", "1.x", "1.4", "1.4.x", "1.4.*", "1.X", "x", "*", "x.x.x", "1.x.x", "=1.4", "v1.4", "=v1.4",
  // primitive comparators, full and partial
  ">=1.4", ">=1.4.0", ">1.4", ">1.4.0", ">1", "<=1.4", "<=1.4.0", "<1.4", "<1.4.0", "<2", "<2.0.0",
  "=1.4.2", "1.4.2", "v1.4.2", ">=1.4.0-rc.1", "<2.0.0-rc.2", "<x", ">x", ">=x", "<=x",
  ">= 1.2 < 2", ">=1.2 <2", ">=1.2.3 <1.2.3", "1.2.3+build", "1.x+build", "1.4+build", "^1.2.3+build",
  // hyphen ranges and alternatives
  "1.2 - 1.4", "1.2.3 - 2.3.4", "1.2.3 - 2", "1 - 2", "1.2.3-rc.1 - 1.2.3", "1.2 - 1.4.5",
  "<1.0.0 || >=2.1", "^1.4 || ^2", "1.x || >=2.1.0-rc.1", "~1.4 || 1.4.x",
  // npm refuses these (a number after a wildcard, leading zeros, too large, not versions)
  "1.x.5", "1.*.5", "x.1", "x.1.2", "x.x.1", ">=1.x.2", "1.x.5 || 2.x", ">=01.2", "1.02", "1.2-rc.1",
  "9007199254740992.0.0", "~9007199254740991", "^9007199254740991.0.0", "banana", ">=foo", "1.2.3.4",
  // npm reads these, tagpin refuses them on purpose (test_npm_ranges.py STRICTER says why)
  "~1.x.5", "^x.1", "1.x.5 - 2", "1 - x.1", "1.x.x-rc.1", "1.2.x-rc.1", "", "1.2 ||", "||",
];

const VERSIONS = [
  "0.0.0-0", "0.0.0", "0.0.1-rc.1", "0.0.1", "0.0.3-rc.1", "0.0.3", "0.0.4-0", "0.0.4", "0.0.9",
  "0.1.0-rc.1", "0.1.0", "0.2.0-rc.1", "0.2.0", "0.2.3-rc.1", "0.2.3", "0.2.9", "0.3.0-rc.1", "0.3.0",
  "0.9.9", "1.0.0-rc.1", "1.0.0", "1.2.2", "1.2.3-0", "1.2.3-rc.1", "1.2.3-rc.2", "1.2.3", "1.2.4-rc.1",
  "1.2.4", "1.3.0", "1.3.9", "1.4.0-0", "1.4.0-rc.1", "1.4.0", "1.4.1-rc.1", "1.4.2-beta", "1.4.2-rc.1",
  "1.4.2-rc.2", "1.4.2", "1.4.5-rc.1", "1.4.5", "1.4.6-rc.1", "1.4.99", "1.5.0-0", "1.5.0-rc.1", "1.5.0",
  "1.9.9", "1.40.0", "2.0.0-0", "2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.0.9", "2.1.0-rc.1", "2.1.0",
  "2.3.4", "2.3.5-rc.1", "2.3.5", "2.9.9", "3.0.0-rc.1", "3.0.0", "10.0.0",
];

const INC = { includePrerelease: true };
const rows = RANGES.map((range) => {
  const plain = semver.validRange(range);
  if (plain === null) return { range, valid: false };
  return {
    range,
    valid: true,
    desugared: plain,
    desugared_prerelease: semver.validRange(range, INC),
    // versions satisfying the range with includePrerelease (tagpin's prerelease: true) ...
    prerelease: VERSIONS.filter((v) => semver.satisfies(v, range, INC)),
    // ... and the release versions satisfying it without (tagpin's prerelease: false)
    release: VERSIONS.filter((v) => semver.prerelease(v) === null && semver.satisfies(v, range)),
  };
});
// One range per line, so a regenerated table diffs readably.
const head = { generator: "tests/domain/gen_npm_ranges.js", semver: pkg.version, versions: VERSIONS };
process.stdout.write(JSON.stringify(head).slice(0, -1) + ',\n"ranges": [\n'
  + rows.map((row) => JSON.stringify(row)).join(",\n") + "\n]}\n");
