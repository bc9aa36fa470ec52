//! Tests of the usage-grid designs: they check the stated guarantee pair by pair.

use proptest::prelude::*;

use super::*;

/// How often each `(level of i, level of j)` pair occurs, for every pair of GPUs `i < j`.
fn pair_counts(rows: &[Vec<usize>], gpus: usize, levels: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for i in 0..gpus {
        for j in i + 1..gpus {
            let mut counts = vec![0usize; levels * levels];
            for r in rows {
                counts[r[i] * levels + r[j]] += 1;
            }
            out.push(counts);
        }
    }
    out
}

fn assert_shape(rows: &[Vec<usize>], gpus: usize, levels: usize) {
    for r in rows {
        assert_eq!(r.len(), gpus, "row {r:?}");
        assert!(
            r.iter().all(|v| *v < levels),
            "row {r:?} has a level ≥ {levels}"
        );
    }
}

/// The full guarantee: strength-2 coverage, every GPU at every level, distinct columns.
fn assert_covering(rows: &[Vec<usize>], gpus: usize, levels: usize) {
    assert_shape(rows, gpus, levels);
    for (p, counts) in pair_counts(rows, gpus, levels).iter().enumerate() {
        assert!(
            counts.iter().all(|c| *c > 0),
            "pair #{p} misses a level pair: {counts:?} (k={gpus}, L={levels})"
        );
    }
    for g in 0..gpus {
        for l in 0..levels {
            assert!(rows.iter().any(|r| r[g] == l), "GPU {g} never at level {l}");
        }
    }
    let columns: Vec<Vec<usize>> = (0..gpus)
        .map(|g| rows.iter().map(|r| r[g]).collect())
        .collect();
    for i in 0..gpus {
        for j in i + 1..gpus {
            assert_ne!(
                columns[i], columns[j],
                "GPUs {i} and {j} have identical columns"
            );
        }
    }
}

#[test]
fn full_design_is_every_combination_in_counter_order() {
    let rows = full(3, 2);
    assert_eq!(
        rows,
        vec![
            vec![0, 0, 0],
            vec![0, 0, 1],
            vec![0, 1, 0],
            vec![0, 1, 1],
            vec![1, 0, 0],
            vec![1, 0, 1],
            vec![1, 1, 0],
            vec![1, 1, 1],
        ]
    );
    assert_eq!(full(8, 3).len(), 6561);
    assert_eq!(full_rows(8, 3), Some(6561));
    assert_eq!(full_rows(64, 10), None);
    assert_eq!(full(0, 3), vec![Vec::<usize>::new()]);
}

#[test]
fn bose_is_an_orthogonal_array() {
    for levels in [2usize, 3, 5, 7] {
        for gpus in 2..=levels + 1 {
            assert!(is_orthogonal(gpus, levels));
            let rows = fractional(gpus, levels);
            assert_eq!(rows.len(), levels * levels, "k={gpus} L={levels}");
            assert_covering(&rows, gpus, levels);
            for counts in pair_counts(&rows, gpus, levels) {
                assert!(
                    counts.iter().all(|c| *c == 1),
                    "not exactly once: {counts:?}"
                );
            }
            // Balanced: each GPU spends L rows at each level.
            for g in 0..gpus {
                for l in 0..levels {
                    assert_eq!(rows.iter().filter(|r| r[g] == l).count(), levels);
                }
            }
        }
    }
}

#[test]
fn degenerate_sizes() {
    assert!(fractional(0, 3).is_empty());
    assert!(fractional(3, 0).is_empty());
    assert_eq!(fractional(4, 1), vec![vec![0, 0, 0, 0]]);
    assert_eq!(fractional(1, 3), vec![vec![0], vec![1], vec![2]]);
}

/// Row counts of the fractional design against the full one; these are regression bounds, and the
/// numbers quoted in the module documentation and the planner's report.
#[test]
fn fractional_row_counts() {
    let cases = [
        // (gpus, levels, rows)
        (4, 3, 9),
        (8, 3, 17),
        (8, 2, 8),
        (8, 4, 28),
        (8, 5, 45),
        (4, 4, 16),
        (16, 3, 22),
    ];
    let mut got = Vec::new();
    for (gpus, levels, _) in cases {
        let rows = fractional(gpus, levels);
        assert_covering(&rows, gpus, levels);
        let full = full_rows(gpus, levels).unwrap_or(usize::MAX);
        println!(
            "k={gpus} L={levels}: fractional {} rows, full {full}",
            rows.len()
        );
        got.push((gpus, levels, rows.len()));
    }
    assert_eq!(got, cases);
}

#[test]
fn fractional_is_deterministic() {
    for (gpus, levels) in [(8, 3), (6, 4), (10, 2)] {
        assert_eq!(fractional(gpus, levels), fractional(gpus, levels));
    }
}

proptest! {
    #[test]
    fn fractional_covers_every_pair(gpus in 2usize..=8, levels in 2usize..=5) {
        let rows = fractional(gpus, levels);
        assert_covering(&rows, gpus, levels);
        prop_assert!(rows.len() <= full_rows(gpus, levels).unwrap_or(usize::MAX));
        if is_orthogonal(gpus, levels) {
            prop_assert_eq!(rows.len(), levels * levels);
        }
    }

    #[test]
    fn full_is_every_combination(gpus in 1usize..=5, levels in 1usize..=4) {
        let rows = full(gpus, levels);
        prop_assert_eq!(Some(rows.len()), full_rows(gpus, levels));
        let mut sorted = rows.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(sorted, rows);
    }
}
