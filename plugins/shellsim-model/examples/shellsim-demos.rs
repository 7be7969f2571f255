//! shellsim's reference solutions as a demonstration file for `steprl play` and
//! `[warmstart] demos`:
//! `cargo run -p shellsim-model --example shellsim-demos -- [SEEDS] [TASK-PREFIX] > demos.jsonl`.

fn main() {
    sim_kit::demos::example_main::<shellsim_model::Shellsim>(shellsim_model::reference_solution);
}
