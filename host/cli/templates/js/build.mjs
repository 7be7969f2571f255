// Builds __NAME__.wasm with componentize-js:
//   npm install @bytecodealliance/componentize-js@0.23.0 && node build.mjs
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = process.env.STEPRL_TEMPLATE_DIR || dirname(fileURLToPath(import.meta.url));
const { component } = await componentize({
  sourcePath: join(here, "__SOURCE__"),
  witPath: join(here, "wit"),
  worldName: "__WORLD__",
  // No randomness, clocks or network; stdio stays so errors reach the host log.
  disableFeatures: ["random", "clocks", "http", "fetch-event"],
});
await writeFile(join(here, "__NAME__.wasm"), component);
console.log("built __NAME__.wasm; check it with: steprl plugin check __NAME__.wasm");
