// Prints sheet-js's known solutions as demonstration lines: node demos.mjs [SEEDS]
import { TASK_IDS, solve } from "./sheet.js";

const seeds = Number(process.argv[2] || 2);
for (const task of TASK_IDS) {
  for (let seed = 0; seed < seeds; seed++) {
    console.log(JSON.stringify({ task, seed, actions: solve(task, seed) }));
  }
}
