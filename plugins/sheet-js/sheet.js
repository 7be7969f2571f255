// sheet-js's world, as plain JavaScript (no WIT types): a 4 × 4 grid of digits, a
// cursor, a clipboard; 20 tasks over 3 levels; one episode's state; the judge (the grid
// the task should leave, rebuilt from task and seed); an oracle solver. The plugin
// (env.js) and the checker (plugins/sheet-js/checker.js) wrap it; `node demos.mjs`
// prints known solutions as demonstration lines.

export const COLS = ["A", "B", "C", "D"];
export const ROWS = 4;
export const ACTIONS = [
  "up", "down", "left", "right",
  ...Array.from({ length: 10 }, (_, d) => `type ${d}`),
  "clear", "copy", "paste", "done",
];

// [id, level]
export const TASKS = [
  ...COLS.map((c) => [`goto.${c}`, 1]),
  ...COLS.map((c) => [`clear.${c}`, 1]),
  ...COLS.map((c) => [`set.${c}`, 2]),
  ["copy.row", 2],
  ["swap", 2],
  ...[1, 2, 3, 4].map((r) => [`fill.row${r}`, 3]),
  ["increment.col", 3],
  ["duplicate.row", 3],
];
export const TASK_IDS = TASKS.map((t) => t[0]);
export const VOCAB = 64;
export const MAX_TOKENS = 1 + 2 + 1 + ROWS * COLS.length;

/** A small seeded generator (mulberry32), so a seed gives the same episode anywhere. */
function rng(seed) {
  let a = (Number(BigInt.asUintN(32, BigInt(seed) * 2654435761n + 12345n)) >>> 0) || 1;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (r, n) => Math.floor(r() * n);
const name = ([row, col]) => `${COLS[col]}${row + 1}`;

/** The task's random parameters and the starting grid, from the seed. */
export function instance(taskId, seed) {
  const r = rng(seed);
  const grid = Array.from({ length: ROWS }, () => Array.from({ length: COLS.length }, () => pick(r, 10)));
  const [kind, arg] = taskId.split(".");
  const cell = (col) => [pick(r, ROWS), col];
  const any = () => [pick(r, ROWS), pick(r, COLS.length)];
  const other = (a) => {
    for (;;) {
      const b = any();
      if (b[0] !== a[0] || b[1] !== a[1]) return b;
    }
  };
  const p = { kind };
  if (kind === "goto" || kind === "clear" || kind === "set") {
    p.cell = cell(COLS.indexOf(arg));
    // The cursor starts at A1: a goto there would be no task.
    if (kind === "goto" && p.cell[0] === 0 && p.cell[1] === 0) p.cell = [1, 0];
    p.digit = pick(r, 10);
    if (kind === "set" && grid[p.cell[0]][p.cell[1]] === p.digit) p.digit = (p.digit + 1) % 10;
    if (kind === "clear" && grid[p.cell[0]][p.cell[1]] === null) grid[p.cell[0]][p.cell[1]] = 1;
  } else if (kind === "copy") {
    p.from = any();
    p.to = [p.from[0], (p.from[1] + 1 + pick(r, 3)) % 4];
    if (grid[p.to[0]][p.to[1]] === grid[p.from[0]][p.from[1]]) grid[p.to[0]][p.to[1]] = (grid[p.from[0]][p.from[1]] + 5) % 10;
  } else if (kind === "swap") {
    p.from = any();
    p.to = other(p.from);
    if (grid[p.to[0]][p.to[1]] === grid[p.from[0]][p.from[1]]) grid[p.to[0]][p.to[1]] = (grid[p.from[0]][p.from[1]] + 3) % 10;
  } else if (kind === "duplicate") {
    p.from = pick(r, ROWS);
    p.to = (p.from + 1 + pick(r, ROWS - 1)) % ROWS;
    grid[p.to][0] = (grid[p.from][0] + 1) % 10;
  } else if (kind === "fill") {
    p.row = Number(arg.slice(3)) - 1;
    p.digit = pick(r, 10);
  } else {
    p.col = pick(r, COLS.length);
    for (let row = 0; row < ROWS; row++) grid[row][p.col] = pick(r, 9);
  }
  return { params: p, grid };
}

/** The instruction of a task instance, in words. */
export function instruction(p) {
  switch (p.kind) {
    case "goto": return `Move the cursor to ${name(p.cell)}, then say done.`;
    case "clear": return `Clear cell ${name(p.cell)}, then say done.`;
    case "set": return `Set cell ${name(p.cell)} to ${p.digit}, then say done.`;
    case "copy": return `Copy cell ${name(p.from)} into ${name(p.to)} (copy, then paste), then say done.`;
    case "swap": return `Swap the values of ${name(p.from)} and ${name(p.to)}, then say done.`;
    case "fill": return `Fill row ${p.row + 1} with ${p.digit}, then say done.`;
    case "duplicate": return `Copy row ${p.from + 1} onto row ${p.to + 1}, cell by cell, then say done.`;
    default: return `Add 1 to every cell of column ${COLS[p.col]}, then say done.`;
  }
}

/** The generic instruction of a task id (the task list's, before a seed picks cells). */
export function generic(taskId) {
  const [kind, arg] = taskId.split(".");
  switch (kind) {
    case "goto": return `Move the cursor to a given cell of column ${arg}, then say done.`;
    case "clear": return `Clear a given cell of column ${arg}, then say done.`;
    case "set": return `Set a given cell of column ${arg} to a given digit, then say done.`;
    case "copy": return "Copy a cell into another cell of the same row, then say done.";
    case "swap": return "Swap the values of two cells, then say done.";
    case "fill": return `Fill row ${arg.slice(3)} with a given digit, then say done.`;
    case "duplicate": return "Copy a row onto another row, cell by cell, then say done.";
    default: return "Add 1 to every cell of a given column, then say done.";
  }
}

/** The grid the task should leave, and where the cursor must end (goto only). */
export function goal(taskId, seed) {
  const { params: p, grid } = instance(taskId, seed);
  const g = grid.map((row) => row.slice());
  if (p.kind === "clear") g[p.cell[0]][p.cell[1]] = null;
  if (p.kind === "set") g[p.cell[0]][p.cell[1]] = p.digit;
  if (p.kind === "copy") g[p.to[0]][p.to[1]] = grid[p.from[0]][p.from[1]];
  if (p.kind === "swap") {
    g[p.to[0]][p.to[1]] = grid[p.from[0]][p.from[1]];
    g[p.from[0]][p.from[1]] = grid[p.to[0]][p.to[1]];
  }
  if (p.kind === "fill") for (let c = 0; c < COLS.length; c++) g[p.row][c] = p.digit;
  if (p.kind === "duplicate") for (let c = 0; c < COLS.length; c++) g[p.to][c] = grid[p.from][c];
  if (p.kind === "increment") for (let r = 0; r < ROWS; r++) g[r][p.col] = grid[r][p.col] + 1;
  return { grid: g, cursor: p.kind === "goto" ? p.cell : null };
}

/** One episode. */
export class Sheet {
  constructor(taskId, seed) {
    this.taskId = taskId;
    this.seed = seed;
    const { params, grid } = instance(taskId, seed);
    this.params = params;
    this.grid = grid;
    this.cursor = [0, 0];
    this.clipboard = null;
    this.saidDone = false;
  }

  apply(index) {
    const label = ACTIONS[index];
    const [r, c] = this.cursor;
    if (label === "up") this.cursor = [Math.max(0, r - 1), c];
    else if (label === "down") this.cursor = [Math.min(ROWS - 1, r + 1), c];
    else if (label === "left") this.cursor = [r, Math.max(0, c - 1)];
    else if (label === "right") this.cursor = [r, Math.min(COLS.length - 1, c + 1)];
    else if (label.startsWith("type ")) this.grid[r][c] = Number(label.slice(5));
    else if (label === "clear") this.grid[r][c] = null;
    else if (label === "copy") this.clipboard = this.grid[r][c];
    else if (label === "paste") this.grid[r][c] = this.clipboard;
    else this.saidDone = true;
  }

  /** Which actions do something: moves that move, paste with a full clipboard. */
  mask() {
    const [r, c] = this.cursor;
    return ACTIONS.map((a) => {
      if (a === "up") return r > 0;
      if (a === "down") return r < ROWS - 1;
      if (a === "left") return c > 0;
      if (a === "right") return c < COLS.length - 1;
      if (a === "paste") return this.clipboard !== null;
      return true;
    });
  }

  text() {
    const head = `    ${COLS.join(" ")}`;
    const rows = this.grid.map((row, r) =>
      `${r + 1}  ${row.map((v, c) => {
        const cell = v === null ? "." : String(v).padStart(1);
        return this.cursor[0] === r && this.cursor[1] === c ? `[${cell}]`.slice(0, 3) : ` ${cell}`;
      }).join("")}`);
    const mask = this.mask();
    const allowed = ACTIONS.filter((_, i) => mask[i]).join(", ");
    const clip = this.clipboard === null ? "empty" : String(this.clipboard);
    return `Task: ${instruction(this.params)}\nCursor at ${name(this.cursor)}; clipboard ${clip}.\n${head}\n${rows.join("\n")}\nActions: ${allowed}.`;
  }

  tokens() {
    const task = 40 + TASK_IDS.indexOf(this.taskId);
    const cells = this.grid.flat().map((v) => (v === null ? 1 : 2 + Math.min(v, 10)));
    const clip = this.clipboard === null ? 1 : 2 + Math.min(this.clipboard, 10);
    return [task, 20 + this.cursor[0], 30 + this.cursor[1], clip, ...cells];
  }

  finalState() {
    // The seed as a string: a u64 (a BigInt here) is not a JSON number.
    return { task: this.taskId, seed: String(this.seed), grid: this.grid, cursor: this.cursor, said_done: this.saidDone };
  }
}

/** [success, score, reason] of a final state. */
export function judge(state) {
  const want = goal(state.task, state.seed);
  const wrong = [];
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS.length; c++) {
      if (state.grid[r][c] !== want.grid[r][c]) wrong.push(name([r, c]));
    }
  }
  if (want.cursor && (state.cursor[0] !== want.cursor[0] || state.cursor[1] !== want.cursor[1])) {
    wrong.push(`cursor (at ${name(state.cursor)}, not ${name(want.cursor)})`);
  }
  if (wrong.length === 0 && state.said_done) return [true, 1, "the sheet is as asked, and done was said"];
  if (wrong.length === 0) return [false, 0.5, "the sheet is as asked, but done was not said"];
  return [false, 0, `wrong: ${wrong.join(", ")}`];
}

/** A known solution, as action labels. */
export function solve(taskId, seed) {
  const { params: p, grid } = instance(taskId, seed);
  const plan = [];
  let at = [0, 0];
  const go = (to) => {
    while (at[0] < to[0]) { plan.push("down"); at = [at[0] + 1, at[1]]; }
    while (at[0] > to[0]) { plan.push("up"); at = [at[0] - 1, at[1]]; }
    while (at[1] < to[1]) { plan.push("right"); at = [at[0], at[1] + 1]; }
    while (at[1] > to[1]) { plan.push("left"); at = [at[0], at[1] - 1]; }
  };
  if (p.kind === "goto") go(p.cell);
  if (p.kind === "clear") { go(p.cell); plan.push("clear"); }
  if (p.kind === "set") { go(p.cell); plan.push(`type ${p.digit}`); }
  if (p.kind === "copy") { go(p.from); plan.push("copy"); go(p.to); plan.push("paste"); }
  if (p.kind === "swap") {
    go(p.from); plan.push(`type ${grid[p.to[0]][p.to[1]]}`);
    go(p.to); plan.push(`type ${grid[p.from[0]][p.from[1]]}`);
  }
  if (p.kind === "fill") for (let c = 0; c < COLS.length; c++) { go([p.row, c]); plan.push(`type ${p.digit}`); }
  if (p.kind === "increment") for (let r = 0; r < ROWS; r++) { go([r, p.col]); plan.push(`type ${grid[r][p.col] + 1}`); }
  if (p.kind === "duplicate") {
    for (let c = 0; c < COLS.length; c++) { go([p.from, c]); plan.push("copy"); go([p.to, c]); plan.push("paste"); }
  }
  plan.push("done");
  return plan;
}

const budgets = new Map();

/** The step budget of a task: twice its longest known solution over 16 seeds, plus 2. */
export function maxSteps(taskId) {
  if (!budgets.has(taskId)) {
    let longest = 0;
    for (let s = 0; s < 16; s++) longest = Math.max(longest, solve(taskId, s).length);
    budgets.set(taskId, 2 * longest + 2);
  }
  return budgets.get(taskId);
}
