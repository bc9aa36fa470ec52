//! Enumeration of every valid placed layout, and of the maximal ones, derived from the placement
//! rules of the profile table alone (no list of layouts is typed in anywhere), so that sweeps such as
//! "every maximal layout of an H100" follow the GPU's own table.
//!
//! A layout here is a set of GPU instances (profile, start) with whole-GI compute instances, valid
//! when no two overlap, every start is an allowed placement, no profile exceeds its maximum and the
//! compute slices fit the GPU. Layouts are sorted by their sequence of `(start, profile id)` pairs
//! (instances by start), compared lexicographically, a prefix first: `7g@0` < `4g@0 + 3g@4` <
//! `3g@0` < `3g@0 + 3g@4` < `3g@4` for ids 0, 5, 9.

use super::compute::{fitting, whole_gi_ci};
use super::{GiProfile, PlacedGi, PlacedLayout, ProfileTable};

/// Every distinct valid placed layout built from the given GPU-instance profile ids (all profiles
/// when `profiles` is `None`), without compute-instance splits. Ids the table lacks are ignored, as
/// are profiles whose default compute instance the table cannot name.
pub fn enumerate_layouts(table: &ProfileTable, profiles: Option<&[u32]>) -> Vec<PlacedLayout> {
    let candidates = candidates(table, profiles);
    let mut out = Vec::new();
    let mut state = State {
        table,
        candidates: &candidates,
        chosen: Vec::new(),
        occupied: vec![false; usize::from(table.memory_slices)],
        compute: 0,
    };
    state.walk(0, &mut |chosen| out.push(chosen.to_vec()));
    finish(&candidates, out)
}

/// The layouts of [`enumerate_layouts`] to which no further instance of the allowed profiles fits.
pub fn maximal_layouts(table: &ProfileTable, profiles: Option<&[u32]>) -> Vec<PlacedLayout> {
    let candidates = candidates(table, profiles);
    let mut out = Vec::new();
    let mut state = State {
        table,
        candidates: &candidates,
        chosen: Vec::new(),
        occupied: vec![false; usize::from(table.memory_slices)],
        compute: 0,
    };
    state.walk(0, &mut |chosen| out.push(chosen.to_vec()));
    let maximal: Vec<Vec<usize>> = out
        .into_iter()
        .filter(|chosen| {
            let mut probe = State {
                table,
                candidates: &candidates,
                chosen: Vec::new(),
                occupied: vec![false; usize::from(table.memory_slices)],
                compute: 0,
            };
            for c in chosen {
                probe.push(*c);
            }
            !(0..candidates.len()).any(|c| probe.fits(c))
        })
        .collect();
    finish(&candidates, maximal)
}

/// One possible GPU instance: a profile at one allowed start.
struct Candidate<'a> {
    profile: &'a GiProfile,
    start: u8,
    gi: PlacedGi,
}

/// Every (profile, start) pair of the allowed profiles, sorted by (start, profile id).
fn candidates<'a>(table: &'a ProfileTable, profiles: Option<&[u32]>) -> Vec<Candidate<'a>> {
    let mut out: Vec<Candidate<'a>> = table
        .gpu_instance_profiles
        .iter()
        .filter(|p| profiles.is_none_or(|ids| ids.contains(&p.id)))
        .filter_map(|p| whole_gi_ci(p).ok().map(|ci| (p, ci)))
        .flat_map(|(p, ci)| {
            fitting(&p.placements, p.placement_size, table.memory_slices)
                .into_iter()
                .map(move |start| Candidate {
                    profile: p,
                    start,
                    gi: PlacedGi {
                        profile_id: p.id,
                        profile: p.name.clone(),
                        start,
                        size: p.placement_size,
                        compute_slices: p.compute_slices,
                        compute_instances: vec![ci.clone()],
                    },
                })
        })
        .collect();
    out.sort_by_key(|c| (c.start, c.profile.id));
    out
}

struct State<'a, 'b> {
    table: &'a ProfileTable,
    candidates: &'b [Candidate<'a>],
    chosen: Vec<usize>,
    occupied: Vec<bool>,
    compute: u32,
}

impl State<'_, '_> {
    /// Whether candidate `c` can join the chosen ones under every rule.
    fn fits(&self, c: usize) -> bool {
        let Some(cand) = self.candidates.get(c) else {
            return false;
        };
        let p = cand.profile;
        let begin = usize::from(cand.start);
        let slots_free = self
            .occupied
            .get(begin..begin + usize::from(p.placement_size))
            .is_some_and(|s| s.iter().all(|o| !o));
        let same = self
            .chosen
            .iter()
            .filter(|i| {
                self.candidates
                    .get(**i)
                    .is_some_and(|o| o.profile.id == p.id)
            })
            .count();
        slots_free
            && same < usize::from(p.max_count)
            && self.compute + u32::from(p.compute_slices) <= u32::from(self.table.compute_slices)
    }

    fn mark(&mut self, c: usize, value: bool) {
        if let Some(cand) = self.candidates.get(c) {
            let begin = usize::from(cand.start);
            let size = usize::from(cand.profile.placement_size);
            for slot in self.occupied.iter_mut().skip(begin).take(size) {
                *slot = value;
            }
            let slices = u32::from(cand.profile.compute_slices);
            self.compute = if value {
                self.compute + slices
            } else {
                self.compute.saturating_sub(slices)
            };
        }
    }

    fn push(&mut self, c: usize) {
        self.mark(c, true);
        self.chosen.push(c);
    }

    fn pop(&mut self) {
        if let Some(c) = self.chosen.pop() {
            self.mark(c, false);
        }
    }

    /// Visit every valid non-empty set of candidates with indices `>= from` added to `chosen`.
    fn walk(&mut self, from: usize, visit: &mut dyn FnMut(&[usize])) {
        for c in from..self.candidates.len() {
            if self.fits(c) {
                self.push(c);
                visit(&self.chosen);
                self.walk(c + 1, visit);
                self.pop();
            }
        }
    }
}

fn finish(candidates: &[Candidate<'_>], mut sets: Vec<Vec<usize>>) -> Vec<PlacedLayout> {
    // Candidates are sorted by (start, id) and each set lists them in index order, so comparing
    // index sequences is comparing (start, id) sequences.
    sets.sort();
    sets.into_iter()
        .map(|set| PlacedLayout {
            instances: set
                .iter()
                .filter_map(|c| candidates.get(*c).map(|cand| cand.gi.clone()))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
#[path = "enumerate_tests.rs"]
mod tests;
