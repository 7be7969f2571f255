// Builds a JavaScript reward checker into a component with componentize-js:
//   node build.mjs SOURCE.js WIT_DIR OUT.wasm
// plugins/build.sh copies this file next to its componentize-js install and runs it
// there (ES modules resolve packages from the script's own directory).
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";

const [sourcePath, witPath, out] = process.argv.slice(2);
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName: "reward-checker",
  // No randomness, clocks or network; stdio stays so errors reach the host log.
  disableFeatures: ["random", "clocks", "http", "fetch-event"],
});
await writeFile(out, component);
