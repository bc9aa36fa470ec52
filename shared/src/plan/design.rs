//! Usage-grid designs: which combinations of per-GPU load levels a usage-grid sweep runs.
//!
//! A usage grid loads each of a node's `k` GPUs at one of `L` levels and asks whether platform
//! sensors (IPMI temperatures, PSU power) reveal which GPU is busy. The full design runs all `L^k`
//! combinations, which is 6,561 runs for 8 GPUs at 3 levels. The fractional design keeps what the
//! analysis needs and drops the rest.
//!
//! # Guarantee of [`fractional`]
//!
//! Rows are vectors of level *indices* (`0..L`), one entry per GPU. For `k ≥ 2` and `L ≥ 2` the rows
//! form a **strength-2 covering array**: for every pair of GPUs `(i, j)` and every pair of levels
//! `(a, b)` some row has GPU `i` at `a` and GPU `j` at `b`. Consequences:
//!
//! - every GPU runs at every level;
//! - no two GPUs have identical level columns (some row has them at levels 0 and 1), so each
//!   sensor's response can be attributed to exactly one GPU.
//!
//! Construction, both deterministic (same `k`, `L` → same rows, in the same order):
//!
//! - **`L` prime and `k ≤ L + 1`**: the Bose orthogonal array `OA(L², k, L, 2)`. Row `(a, b)` for
//!   `a, b ∈ 0..L` has GPU `j < L` at `(a + j·b) mod L` and GPU `L` at `b`. Every pair of levels
//!   appears **exactly once** for every pair of GPUs, so the design has `L²` rows and is balanced
//!   (every GPU spends `L` rows at every level).
//! - **otherwise**: in-parameter-order greedy growth (IPOG, Lei et al. 2007). Start from the Bose
//!   array on the first `min(k, L + 1)` GPUs when `L` is prime, else from all `L²` level pairs of the
//!   first two GPUs; add one GPU at a time, first choosing its level in each existing row to cover as
//!   many uncovered pairs as possible, then appending rows for the pairs still uncovered. Free cells
//!   get the level used least so far on that GPU, which keeps the design close to balanced. Coverage
//!   is exact (every pair is covered); the row count is small but not minimal. For example 8 GPUs at
//!   3 levels need 17 rows instead of 6,561, 8 GPUs at 4 levels 28 instead of 65,536 (see the
//!   tests for more).
//!
//! Degenerate sizes: `k = 0` or `L = 0` gives no rows; `L = 1` gives one row (all GPUs at the only
//! level); `k = 1` gives one row per level.

/// Rows of the full design: every combination of `levels` level indices over `gpus` GPUs, the first
/// GPU varying slowest (`[0,0,0], [0,0,1], …`). Call [`full_rows`] first: this allocates all of them.
pub fn full(gpus: usize, levels: usize) -> Vec<Vec<usize>> {
    let Some(rows) = full_rows(gpus, levels) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(rows);
    let mut row = vec![0usize; gpus];
    for _ in 0..rows {
        out.push(row.clone());
        // Increment the base-`levels` counter, last GPU fastest.
        for cell in row.iter_mut().rev() {
            *cell += 1;
            if *cell < levels {
                break;
            }
            *cell = 0;
        }
    }
    out
}

/// Number of rows of the full design (`levels^gpus`), or `None` when it does not fit a `usize`.
pub fn full_rows(gpus: usize, levels: usize) -> Option<usize> {
    let exp = u32::try_from(gpus).ok()?;
    levels.checked_pow(exp)
}

/// Rows of the fractional design: a strength-2 covering array over `gpus` GPUs at `levels` levels (see
/// the module documentation for the guarantee and the construction).
pub fn fractional(gpus: usize, levels: usize) -> Vec<Vec<usize>> {
    if gpus == 0 || levels == 0 {
        return Vec::new();
    }
    if levels == 1 {
        return vec![vec![0; gpus]];
    }
    if gpus == 1 {
        return (0..levels).map(|l| vec![l]).collect();
    }
    if is_prime(levels) && gpus <= levels + 1 {
        return bose(gpus, levels);
    }
    ipog(gpus, levels)
}

/// Whether the fractional design for this size is an exact orthogonal array (each pair of levels
/// exactly once for each pair of GPUs).
pub fn is_orthogonal(gpus: usize, levels: usize) -> bool {
    gpus >= 2 && levels >= 2 && is_prime(levels) && gpus <= levels + 1
}

fn is_prime(n: usize) -> bool {
    n >= 2
        && (2..n)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Bose construction of `OA(L², k, L, 2)` for prime `L` and `k ≤ L + 1`; rows in `(a, b)` order.
fn bose(gpus: usize, levels: usize) -> Vec<Vec<usize>> {
    let mut rows = Vec::with_capacity(levels * levels);
    for a in 0..levels {
        for b in 0..levels {
            let row = (0..gpus)
                .map(|j| if j < levels { (a + j * b) % levels } else { b })
                .collect();
            rows.push(row);
        }
    }
    rows
}

/// Pairs of the column being added still uncovered: `(earlier column, its level, new level)`.
struct Uncovered {
    levels: usize,
    flags: Vec<bool>,
    left: usize,
}

impl Uncovered {
    fn new(columns: usize, levels: usize) -> Self {
        let n = columns * levels * levels;
        Self {
            levels,
            flags: vec![true; n],
            left: n,
        }
    }

    fn slot(&self, column: usize, a: usize, b: usize) -> usize {
        (column * self.levels + a) * self.levels + b
    }

    fn is_uncovered(&self, column: usize, a: usize, b: usize) -> bool {
        self.flags[self.slot(column, a, b)]
    }

    /// Mark every pair `row` forms between the new column `col` and the earlier ones.
    fn cover_row(&mut self, row: &[Option<usize>], col: usize) {
        let Some(b) = row[col] else { return };
        for (i, cell) in row[..col].iter().enumerate() {
            if let Some(a) = *cell {
                let s = self.slot(i, a, b);
                if self.flags[s] {
                    self.flags[s] = false;
                    self.left -= 1;
                }
            }
        }
    }
}

/// In-parameter-order greedy covering array (see the module documentation).
fn ipog(gpus: usize, levels: usize) -> Vec<Vec<usize>> {
    let start = if is_prime(levels) {
        (levels + 1).min(gpus)
    } else {
        2
    };
    let mut rows: Vec<Vec<Option<usize>>> = if is_prime(levels) {
        bose(start, levels)
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect()
    } else {
        full(2, levels)
            .into_iter()
            .map(|r| r.into_iter().map(Some).collect())
            .collect()
    };
    let mut usage: Vec<Vec<usize>> = vec![vec![0; levels]; gpus];
    for row in &rows {
        for (c, cell) in row.iter().enumerate() {
            if let Some(v) = cell {
                usage[c][*v] += 1;
            }
        }
    }

    for col in start..gpus {
        let mut unc = Uncovered::new(col, levels);
        // Horizontal growth: give every existing row the level that covers most new pairs.
        for row in rows.iter_mut() {
            let mut best = 0usize;
            let mut best_gain = 0usize;
            let mut best_use = usize::MAX;
            for (v, &used) in usage[col].iter().enumerate() {
                let gain = row[..col]
                    .iter()
                    .enumerate()
                    .filter(|(i, cell)| cell.is_some_and(|a| unc.is_uncovered(*i, a, v)))
                    .count();
                if gain > best_gain || (gain == best_gain && used < best_use) {
                    best = v;
                    best_gain = gain;
                    best_use = used;
                }
            }
            row.push(Some(best));
            usage[col][best] += 1;
            unc.cover_row(row, col);
        }
        // Vertical growth: rows for the pairs still uncovered, reusing free cells where possible.
        for i in 0..col {
            for a in 0..levels {
                for b in 0..levels {
                    if unc.left == 0 {
                        break;
                    }
                    if !unc.is_uncovered(i, a, b) {
                        continue;
                    }
                    let fits = rows
                        .iter()
                        .position(|r| r[i].is_none_or(|x| x == a) && r[col].is_none_or(|x| x == b));
                    let idx = match fits {
                        Some(p) => p,
                        None => {
                            let mut r = vec![None; col + 1];
                            r[col] = Some(b);
                            usage[col][b] += 1;
                            rows.push(r);
                            rows.len() - 1
                        }
                    };
                    let row = &mut rows[idx];
                    if row[i].is_none() {
                        row[i] = Some(a);
                        usage[i][a] += 1;
                    }
                    if row[col].is_none() {
                        row[col] = Some(b);
                        usage[col][b] += 1;
                    }
                    unc.cover_row(row, col);
                }
            }
        }
    }

    // Free cells take the level used least so far on that GPU (lowest level on ties).
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .enumerate()
                .map(|(c, cell)| {
                    cell.unwrap_or_else(|| {
                        let v = (0..levels).min_by_key(|v| (usage[c][*v], *v)).unwrap_or(0);
                        usage[c][v] += 1;
                        v
                    })
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
#[path = "design_tests.rs"]
mod tests;
