#!/usr/bin/env node
// `pnpm tidemark` starts here: plain node on the bundled CLI (see bundle.mjs), rebuilt when sources change.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBundle } from "./bundle.mjs";

await import(pathToFileURL(join(await ensureBundle(), "tidemark.js")).href);
