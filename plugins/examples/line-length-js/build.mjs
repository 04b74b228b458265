// Builds app.js into a wasm32-wasip2 component against the WIT contract:
//   node build.mjs app.js ../../../wit/1.0.0 OUT.wasm
// componentize-js bundles the StarlingMonkey JavaScript engine with the app.
import { componentize } from "@bytecodealliance/componentize-js";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";

const [, , source, wit, out] = process.argv;
const { component } = await componentize({
  sourcePath: resolve(source),
  witPath: resolve(wit),
  worldName: "validator",
  // A validator gets no network: leave the HTTP machinery out of the component.
  disableFeatures: ["http", "fetch-event"],
});
await mkdir(dirname(resolve(out)), { recursive: true });
await writeFile(out, component);
console.log(`wrote ${out} (${component.length} bytes)`);
