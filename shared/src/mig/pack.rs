//! The deterministic slot packer shared by GPU-instance placement (memory slots) and
//! compute-instance placement (compute slices inside a GPU instance).
//!
//! Rules, in this order:
//! 1. Pinned groups, in group order. The first instance goes at the pinned start (it must be an
//!    allowed start and free); further instances of the same group (`x2@0`) take the next allowed
//!    free starts above the previous one.
//! 2. Unpinned instances, largest size first, then group order, then instance order, each at the
//!    lowest allowed free start (greedy). If greedy fails, a depth-first search over the same order
//!    and the same ascending starts finds the first arrangement that fits, so any placeable layout
//!    is placed (the search space is tiny: 8 slots). Instances of one group are interchangeable, so
//!    each must start above the previous one of its group; this prunes mirrored arrangements only.

/// One term to pack: `count` instances of `size` slots.
#[derive(Debug, Clone)]
pub(super) struct Group {
    /// Slots one instance holds.
    pub size: u8,
    /// Allowed start slots, ascending, each fitting inside the slots.
    pub allowed: Vec<u8>,
    /// Instances.
    pub count: u8,
    /// Pinned start of the first instance.
    pub pin: Option<u8>,
}

/// An instance: (group index, instance index within the group).
pub(super) type Item = (usize, u8);

/// Why packing failed; the caller turns items into names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PackError {
    /// The pinned start of a group is not one of its allowed starts.
    StartNotAllowed { group: usize },
    /// A pinned instance overlaps an earlier pinned one.
    Collision {
        earlier: (Item, u8),
        later: (Item, u8),
        slots: Vec<u8>,
    },
    /// No allowed free start is left for `item`; `occupied` lists (item, start, size) held then.
    NoRoom {
        item: Item,
        needed: Vec<u8>,
        occupied: Vec<(Item, u8, u8)>,
    },
}

/// Starts per group, per instance (in instance order).
pub(super) type Packing = Vec<Vec<u8>>;

struct Board<'a> {
    groups: &'a [Group],
    owner: Vec<Option<Item>>,
    starts: Packing,
}

impl Board<'_> {
    fn free(&self, start: u8, size: u8) -> bool {
        let (start, size) = (usize::from(start), usize::from(size));
        self.owner
            .get(start..start + size)
            .is_some_and(|s| s.iter().all(Option::is_none))
    }

    fn set(&mut self, item: Item, start: u8, owner: Option<Item>) {
        let size = self.groups.get(item.0).map_or(0, |g| usize::from(g.size));
        let begin = usize::from(start);
        for slot in self.owner.iter_mut().skip(begin).take(size) {
            *slot = owner;
        }
    }

    fn take(&mut self, item: Item, start: u8) {
        self.set(item, start, Some(item));
        if let Some(starts) = self.starts.get_mut(item.0) {
            starts.push(start);
        }
    }

    fn release(&mut self, item: Item, start: u8) {
        self.set(item, start, None);
        if let Some(starts) = self.starts.get_mut(item.0) {
            starts.pop();
        }
    }

    /// (item, start, size) of every placed instance, by start.
    fn occupied(&self) -> Vec<(Item, u8, u8)> {
        let mut out: Vec<(Item, u8, u8)> = self
            .starts
            .iter()
            .enumerate()
            .flat_map(|(g, starts)| {
                let size = self.groups.get(g).map_or(0, |gr| gr.size);
                starts
                    .iter()
                    .enumerate()
                    .map(move |(k, s)| ((g, u8::try_from(k).unwrap_or(u8::MAX)), *s, size))
            })
            .collect();
        out.sort_by_key(|(item, start, _)| (*start, *item));
        out
    }

    /// Lowest start for `item` that is allowed, free and not below `min`.
    fn candidates(&self, item: Item, min: u8) -> Vec<u8> {
        let Some(group) = self.groups.get(item.0) else {
            return Vec::new();
        };
        group
            .allowed
            .iter()
            .copied()
            .filter(|s| *s >= min && self.free(*s, group.size))
            .collect()
    }

    /// The lowest start an unpinned item may take: above the previous instance of its group.
    fn min_start(&self, item: Item) -> u8 {
        if item.1 == 0 {
            return 0;
        }
        self.starts
            .get(item.0)
            .and_then(|s| s.last())
            .map_or(0, |s| s.saturating_add(1))
    }
}

/// Pack `groups` into `slots` slots, or say why not.
pub(super) fn pack(slots: u8, groups: &[Group]) -> Result<Packing, PackError> {
    let mut board = Board {
        groups,
        owner: vec![None; usize::from(slots)],
        starts: vec![Vec::new(); groups.len()],
    };
    place_pinned(&mut board)?;

    let mut order: Vec<Item> = groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.pin.is_none())
        .flat_map(|(gi, g)| (0..g.count).map(move |k| (gi, k)))
        .collect();
    order.sort_by_key(|(g, k)| {
        let size = groups.get(*g).map_or(0, |gr| gr.size);
        (std::cmp::Reverse(size), *g, *k)
    });

    // Greedy first: on failure its state is the one the error reports.
    let mut failure = None;
    for item in &order {
        let min = board.min_start(*item);
        match board.candidates(*item, min).first() {
            Some(start) => board.take(*item, *start),
            None => {
                failure = Some(PackError::NoRoom {
                    item: *item,
                    needed: groups
                        .get(item.0)
                        .map(|g| g.allowed.clone())
                        .unwrap_or_default(),
                    occupied: board.occupied(),
                });
                break;
            }
        }
    }
    let Some(failure) = failure else {
        return Ok(board.starts);
    };

    // Undo the greedy part and search.
    for (g, starts) in board.starts.iter_mut().enumerate() {
        if groups.get(g).is_some_and(|gr| gr.pin.is_none()) {
            starts.clear();
        }
    }
    board.owner = vec![None; usize::from(slots)];
    let pinned: Vec<(Item, u8)> = board
        .starts
        .iter()
        .enumerate()
        .flat_map(|(g, s)| {
            s.iter()
                .enumerate()
                .map(move |(k, st)| ((g, u8::try_from(k).unwrap_or(u8::MAX)), *st))
        })
        .collect();
    for (item, start) in pinned {
        board.set(item, start, Some(item));
    }
    if search(&mut board, &order) {
        Ok(board.starts)
    } else {
        Err(failure)
    }
}

fn place_pinned(board: &mut Board<'_>) -> Result<(), PackError> {
    let groups = board.groups;
    for (gi, group) in groups.iter().enumerate() {
        let Some(pin) = group.pin else { continue };
        if !group.allowed.contains(&pin) {
            return Err(PackError::StartNotAllowed { group: gi });
        }
        let first = (gi, 0u8);
        let overlap: Vec<u8> = (pin..pin.saturating_add(group.size))
            .filter(|s| {
                board
                    .owner
                    .get(usize::from(*s))
                    .is_some_and(Option::is_some)
            })
            .collect();
        if let Some(slot) = overlap.first() {
            let earlier = board
                .owner
                .get(usize::from(*slot))
                .copied()
                .flatten()
                .unwrap_or(first);
            let earlier_start = board
                .starts
                .get(earlier.0)
                .and_then(|s| s.get(usize::from(earlier.1)))
                .copied()
                .unwrap_or(0);
            let earlier_size = groups.get(earlier.0).map_or(0, |g| g.size);
            let slots = overlap
                .iter()
                .copied()
                .filter(|s| *s >= earlier_start && *s < earlier_start.saturating_add(earlier_size))
                .collect();
            return Err(PackError::Collision {
                earlier: (earlier, earlier_start),
                later: (first, pin),
                slots,
            });
        }
        board.take(first, pin);
        let mut previous = pin;
        for k in 1..group.count {
            let above = previous.saturating_add(1);
            let item = (gi, k);
            match board.candidates(item, above).first() {
                Some(start) => {
                    board.take(item, *start);
                    previous = *start;
                }
                None => {
                    return Err(PackError::NoRoom {
                        item,
                        needed: group
                            .allowed
                            .iter()
                            .copied()
                            .filter(|s| *s >= above)
                            .collect(),
                        occupied: board.occupied(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn search(board: &mut Board<'_>, order: &[Item]) -> bool {
    let Some((item, rest)) = order.split_first() else {
        return true;
    };
    let min = board.min_start(*item);
    for start in board.candidates(*item, min) {
        board.take(*item, start);
        if search(board, rest) {
            return true;
        }
        board.release(*item, start);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(size: u8, allowed: &[u8], count: u8, pin: Option<u8>) -> Group {
        Group {
            size,
            allowed: allowed.to_vec(),
            count,
            pin,
        }
    }

    #[test]
    fn greedy_lowest_start_largest_first() {
        // 1-slot term written first still goes after the 4-slot one.
        let groups = [
            group(1, &[0, 1, 2, 3, 4, 5, 6], 2, None),
            group(4, &[0, 4], 1, None),
        ];
        assert_eq!(pack(8, &groups), Ok(vec![vec![4, 5], vec![0]]));
    }

    #[test]
    fn search_finds_what_greedy_misses() {
        // Greedy puts the 2-slot item at 0, leaving no start for the 1-slot item that may only
        // start at 0; the search moves the 2-slot item to 2.
        let groups = [group(2, &[0, 2], 1, None), group(1, &[0], 1, None)];
        assert_eq!(pack(4, &groups), Ok(vec![vec![2], vec![0]]));
    }

    #[test]
    fn pinned_count_takes_next_free_starts_above() {
        let groups = [group(1, &[0, 1, 2, 3], 3, Some(1))];
        assert_eq!(pack(4, &groups), Ok(vec![vec![1, 2, 3]]));
        let groups = [group(4, &[0, 4], 2, Some(4))];
        assert_eq!(
            pack(8, &groups),
            Err(PackError::NoRoom {
                item: (0, 1),
                needed: vec![],
                occupied: vec![((0, 0), 4, 4)],
            })
        );
    }

    #[test]
    fn pinned_collision_names_both() {
        let groups = [
            group(4, &[0, 4], 1, Some(0)),
            group(2, &[0, 2, 4], 1, Some(2)),
        ];
        assert_eq!(
            pack(8, &groups),
            Err(PackError::Collision {
                earlier: ((0, 0), 0),
                later: ((1, 0), 2),
                slots: vec![2, 3],
            })
        );
    }

    #[test]
    fn start_not_allowed() {
        let groups = [group(4, &[0, 4], 1, Some(2))];
        assert_eq!(
            pack(8, &groups),
            Err(PackError::StartNotAllowed { group: 0 })
        );
    }

    #[test]
    fn no_room_reports_greedy_state() {
        let groups = [group(8, &[0], 1, None), group(1, &[0, 1], 1, None)];
        assert_eq!(
            pack(8, &groups),
            Err(PackError::NoRoom {
                item: (1, 0),
                needed: vec![0, 1],
                occupied: vec![((0, 0), 0, 8)],
            })
        );
    }
}
