//! The hostile suite: bad files, bad values, damaged run folders and faults, each run as a
//! user would run the command. Every case asserts an exit code that is neither 0 nor a panic
//! (101), a message naming the problem, no earlier file changed (hashes before and after)
//! and no temporary file left.

#[path = "../common/mod.rs"]
mod common;
mod faults;
mod harness;
mod inputs;
mod runs;

use harness::check_all;

#[test]
fn bad_tables_are_refused_before_the_run_is_touched() {
    check_all(inputs::CSV);
}

#[test]
fn bad_experiment_files_are_refused_before_the_run_is_touched() {
    check_all(inputs::EXPERIMENT);
}

#[test]
fn bad_logits_and_caches_are_refused() {
    check_all(runs::LOGITS);
}

#[test]
fn damaged_models_and_bad_scoring_inputs_are_refused() {
    check_all(runs::MODELS);
}

#[test]
fn damaged_run_folders_are_refused() {
    check_all(runs::RUN_FOLDERS);
}

#[test]
fn the_suite_has_at_least_sixty_cases() {
    let cases = [
        inputs::CSV,
        inputs::EXPERIMENT,
        runs::LOGITS,
        runs::MODELS,
        runs::RUN_FOLDERS,
    ];
    let total: usize = cases.iter().map(|c| c.len()).sum::<usize>() + FAULTS;
    assert!(total >= 60, "{total} cases");
}

/// The fault tests below.
const FAULTS: usize = 5;

#[test]
fn a_full_disk_is_an_error_naming_the_file() {
    faults::full_disk();
}

#[test]
fn a_read_only_folder_is_an_error_naming_it() {
    faults::read_only_folder();
}

#[test]
fn closed_or_full_stdout_never_panics() {
    faults::closed_and_full_stdout();
}

#[test]
fn kills_at_random_points_leave_whole_files() {
    faults::kills_at_random_points();
}

#[test]
fn a_second_writer_is_refused() {
    faults::two_writers();
}
