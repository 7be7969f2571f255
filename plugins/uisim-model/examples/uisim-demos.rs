//! uisim's reference solutions as a demonstration file for `steprl play` and
//! `[warmstart] demos`:
//! `cargo run -p uisim-model --example uisim-demos -- [SEEDS] [TASK-PREFIX] > demos.jsonl`.

fn main() {
    sim_kit::demos::example_main::<uisim_model::Uisim>(uisim_model::reference_solution);
}
