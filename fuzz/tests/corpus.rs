//! Every input of the seed corpus through the fuzz target's code, in the ordinary test run,
//! so the target cannot stop compiling or start panicking unnoticed between fuzz runs.

use std::fs;
use std::path::Path;

#[test]
fn the_seed_corpus_runs_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus_seed/rules");
    let mut n = 0;
    for entry in fs::read_dir(&dir).expect("corpus_seed/rules") {
        let path = entry.expect("corpus entry").path();
        // Seeds are valid documents: each must go through every stage.
        assert!(
            rowguard_fuzz::rules(&fs::read(&path).expect("corpus file")),
            "{} is not a valid rule document",
            path.display()
        );
        n += 1;
    }
    assert!(
        n >= 7,
        "the seed corpus has {n} inputs in {}",
        dir.display()
    );
}

#[test]
fn the_policy_seed_corpus_runs_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus_seed/policies");
    let mut n = 0;
    for entry in fs::read_dir(&dir).expect("corpus_seed/policies") {
        let path = entry.expect("corpus entry").path();
        assert!(
            rowguard_fuzz::policies(&fs::read(&path).expect("corpus file")),
            "{} is not a valid policy",
            path.display()
        );
        n += 1;
    }
    assert!(
        n >= 4,
        "the seed corpus has {n} inputs in {}",
        dir.display()
    );
}
