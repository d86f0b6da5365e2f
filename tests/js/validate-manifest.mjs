#!/usr/bin/env node
// Validate a Teams app manifest against Microsoft's own JSON schema, offline.
//
//   node validate-manifest.mjs <manifest.json | ->
//
// Prints one JSON object on stdout: {"ok": bool, "errors": [...], "manifestVersion": ..., "schema": ...}
// Exit code: 0 valid, 1 invalid, 2 the manifest could not be read or has no known schema version.
//
// The schema is the one @microsoft/app-manifest ships for the manifest's `manifestVersion`
// (build/json-schemas/teams/v<version>/MicrosoftTeams.schema.json), loaded from disk and handed to
// the package's own `AppManifestUtils.validateAgainstSchema(manifest, schema)` (ajv draft-04, all
// errors, the same formats). Nothing is fetched: `globalThis.fetch` is replaced by a function that
// throws, so a code path that tried the network would fail loudly rather than pass quietly.
//
// package.json also lists fs-extra: @microsoft/app-manifest 1.1.2 require()s it without declaring it.

import { readFileSync, existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

globalThis.fetch = async (url) => {
  throw new Error(`validate-manifest is offline: refused to fetch ${url}`);
};

const require = createRequire(import.meta.url);

function report(result, code) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exitCode = code;
}

function readManifest(arg) {
  const raw = arg === "-" ? readFileSync(0, "utf8") : readFileSync(arg, "utf8");
  return JSON.parse(raw.replace(/^\uFEFF/, ""));
}

function schemaDirFor(manifestVersion) {
  const packageJson = require.resolve("@microsoft/app-manifest/package.json");
  const teams = path.join(path.dirname(packageJson), "build", "json-schemas", "teams");
  const name = manifestVersion === "devPreview" ? "vDevPreview" : `v${manifestVersion}`;
  return { teams, dir: path.join(teams, name) };
}

function loadSchema(file) {
  // The package cleans the same two escapes before parsing (see AppManifestUtils.fetchSchema):
  // some schema versions carry "\a" / "\v" in regex patterns, which JSON does not allow.
  const raw = readFileSync(file, "utf8").replace(/\\a/g, "\\u0007").replace(/\\v/g, "\\u000b");
  return JSON.parse(raw);
}

async function main(argv) {
  if (argv.length !== 1) {
    report({ ok: false, errors: ["usage: validate-manifest.mjs <manifest.json | ->"] }, 2);
    return;
  }
  let manifest;
  try {
    manifest = readManifest(argv[0]);
  } catch (error) {
    report({ ok: false, errors: [`cannot read the manifest: ${error.message}`] }, 2);
    return;
  }
  if (manifest === null || typeof manifest !== "object" || Array.isArray(manifest)) {
    report({ ok: false, errors: ["the manifest is not a JSON object"] }, 2);
    return;
  }
  const version = manifest.manifestVersion;
  if (typeof version !== "string" || !/^(\d+\.\d+|devPreview)$/.test(version)) {
    report({ ok: false, errors: [`manifestVersion is missing or malformed: ${JSON.stringify(version)}`] }, 2);
    return;
  }
  const { teams, dir } = schemaDirFor(version);
  const schemaFile = path.join(dir, "MicrosoftTeams.schema.json");
  if (!existsSync(schemaFile)) {
    const known = readdirSync(teams).sort().join(", ");
    report(
      { ok: false, errors: [`no schema shipped for manifestVersion ${version} (shipped: ${known})`] },
      2,
    );
    return;
  }

  const errors = [];
  // The $schema URL, when present, must name the same version as manifestVersion: a mismatch is
  // a common copy-paste slip that the schema itself does not catch.
  if (typeof manifest.$schema === "string") {
    const match = manifest.$schema.match(/\/json-schemas\/teams\/v([^/]+)\/MicrosoftTeams\.schema\.json$/i);
    if (!match) {
      errors.push(`/$schema is not a Teams manifest schema URL: ${manifest.$schema}`);
    } else if (match[1].toLowerCase() !== version.toLowerCase()) {
      errors.push(`/$schema names v${match[1]} but manifestVersion is ${version}`);
    }
  }

  const { AppManifestUtils } = require("@microsoft/app-manifest");
  const schema = loadSchema(schemaFile);
  const schemaErrors = await AppManifestUtils.validateAgainstSchema(manifest, schema);
  errors.push(...schemaErrors);
  report(
    {
      ok: errors.length === 0,
      errors,
      manifestVersion: version,
      schema: `@microsoft/app-manifest@${require("@microsoft/app-manifest/package.json").version}/${path
        .relative(path.dirname(path.dirname(path.dirname(teams))), schemaFile)
        .split(path.sep)
        .join("/")}`,
    },
    errors.length === 0 ? 0 : 1,
  );
}

main(process.argv.slice(2)).catch((error) => {
  report({ ok: false, errors: [`validator crashed: ${error.stack || error}`] }, 2);
});
