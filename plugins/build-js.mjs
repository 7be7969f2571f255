// Builds a JavaScript plugin into a component with componentize-js:
//   node build-js.mjs ENTRY.js WORLD WIT_DIR OUT.wasm
// Each `import { ... } from "./NAME.js";` line of the entry is replaced by that file
// beside it, its `export`s made plain declarations, so a plugin may keep its world in
// a module of its own (componentize-js takes one source file).
// plugins/build.sh copies this file next to its componentize-js install and runs it
// there (ES modules resolve packages from the script's own directory).
import { componentize } from "@bytecodealliance/componentize-js";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const [entry, worldName, witPath, out] = process.argv.slice(2);
const main = await readFile(entry, "utf8");
const parts = [];
const rest = [];
for (const line of main.split("\n")) {
  const local = line.match(/^import \{[^}]*\} from "\.\/([\w-]+\.js)";$/);
  if (local) {
    const text = await readFile(join(dirname(entry), local[1]), "utf8");
    parts.push(text.replace(/^export (const|function|class) /gm, "$1 "));
  } else {
    rest.push(line);
  }
}
// Only one-line local imports are inlined.
if (rest.some((l) => /from "\.\//.test(l))) {
  throw new Error(`${entry}: a local import spans several lines; keep it on one line`);
}
parts.push(rest.join("\n"));
const tmp = await mkdtemp(join(tmpdir(), "steprl-js-"));
const sourcePath = join(tmp, "plugin.js");
await writeFile(sourcePath, parts.join("\n"));
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName,
  // No randomness, clocks or network; stdio stays so errors reach the host log.
  disableFeatures: ["random", "clocks", "http", "fetch-event"],
});
await writeFile(out, component);
await rm(tmp, { recursive: true });
