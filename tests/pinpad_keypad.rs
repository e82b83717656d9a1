//! Keypad layouts are uniform (security doc P4): over 100 000 entries each digit lands in each
//! slot about equally often, by chi-square tests, and two entries in a row never share a layout.
//!
//! Statistics: for one slot, the digit it shows is uniform over 10 values in every entry, so the
//! 10 counts are multinomial and Pearson's statistic is chi-square with 9 degrees of freedom;
//! with 10 slots tested at p = 1e-4 each the family-wise false alarm rate is 1e-3. For the whole
//! 10 × 10 table, the entries are permutation matrices whose covariance is
//! `(1/9) Q ⊗ Q` (`Q` the centring projection), so Pearson's statistic times 9/10 is chi-square
//! with 81 degrees of freedom; tested at p = 1e-3. Critical values: 33.720 (9 df, 1e-4) and
//! 126.083 (81 df, 1e-3), from the regularized incomplete gamma function.
//! A known-biased shuffle (swap each position with any position) must fail both tests, so the
//! test can fail.
#![allow(clippy::unwrap_used)] // A panic in a test is a failure.

use softpos::pinpad::keypad::Layout;

const ENTRIES: u32 = 100_000;
const SLOT_CRITICAL_9DF_1E4: f64 = 33.720;
const TABLE_CRITICAL_81DF_1E3: f64 = 126.083;

fn counts(mut next: impl FnMut() -> Layout) -> [[u32; 10]; 10] {
    let mut table = [[0u32; 10]; 10];
    for _ in 0..ENTRIES {
        for (slot, digit) in next().to_bytes().iter().enumerate() {
            table[slot][usize::from(*digit)] += 1;
        }
    }
    table
}

/// (worst per-slot statistic, scaled whole-table statistic)
fn statistics(table: &[[u32; 10]; 10]) -> (f64, f64) {
    let expected = f64::from(ENTRIES) / 10.0;
    let cell = |c: u32| (f64::from(c) - expected).powi(2) / expected;
    let per_slot = table
        .iter()
        .map(|row| row.iter().map(|&c| cell(c)).sum::<f64>())
        .fold(0.0, f64::max);
    let whole: f64 = table.iter().flatten().map(|&c| cell(c)).sum();
    (per_slot, whole * 9.0 / 10.0)
}

#[test]
fn layouts_are_uniform_by_chi_square() {
    let mut previous: Option<Layout> = None;
    let table = counts(|| {
        let layout = Layout::shuffled(previous.as_ref()).unwrap();
        previous = Some(layout.clone());
        layout
    });
    let (per_slot, whole) = statistics(&table);
    assert!(
        per_slot < SLOT_CRITICAL_9DF_1E4,
        "worst slot chi-square {per_slot:.1}"
    );
    assert!(
        whole < TABLE_CRITICAL_81DF_1E3,
        "table chi-square {whole:.1}"
    );
}

#[test]
fn a_biased_shuffle_fails_the_same_test() {
    // The classic mistake: swap every position with a uniformly chosen position of the whole
    // array (10^10 equally likely paths onto 10! layouts, not a multiple: biased).
    let table = counts(|| {
        let mut digits = Layout::phone().to_bytes();
        for i in 0..10 {
            let j = usize::try_from(getrandom::u32().unwrap() % 10).unwrap();
            digits.swap(i, j);
        }
        Layout::from_bytes(digits).unwrap()
    });
    let (per_slot, whole) = statistics(&table);
    assert!(
        per_slot > SLOT_CRITICAL_9DF_1E4,
        "worst slot chi-square {per_slot:.1}"
    );
    assert!(
        whole > TABLE_CRITICAL_81DF_1E3,
        "table chi-square {whole:.1}"
    );
}

#[test]
fn consecutive_entries_never_share_a_layout() {
    let mut previous = Layout::shuffled(None).unwrap();
    for _ in 0..ENTRIES {
        let next = Layout::shuffled(Some(&previous)).unwrap();
        assert!(next != previous);
        previous = next;
    }
}

#[test]
fn accessible_mode_uses_the_fixed_phone_layout() {
    assert_eq!(Layout::phone().to_bytes(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]);
}
