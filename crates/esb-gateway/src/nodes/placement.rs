//! Where a new worker goes: the node that fits best. A node qualifies when it is up,
//! not draining, carries every label the function requires and none it avoids, has a
//! worker slot left and memory for the function's `MemorySize`. Among those, a node
//! that already holds the function's image (or code) wins — starting there skips a
//! pull — then the least loaded (the larger share of memory and of worker slots left),
//! then the name, so equal nodes are chosen the same way every time.

use std::collections::BTreeMap;

/// A node as placement sees it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// Up and not draining.
    pub accepting: bool,
    pub memory_mb: u64,
    /// `MemorySize` of its workers, those starting included.
    pub memory_used_mb: u64,
    pub capacity: u32,
    pub workers: u32,
    pub holds_image: bool,
}

/// What the new worker needs.
#[derive(Debug, Clone, Default)]
pub struct Want<'a> {
    pub memory_mb: u64,
    pub require: Option<&'a BTreeMap<String, String>>,
    pub avoid: Option<&'a BTreeMap<String, String>>,
}

/// Why no node qualified: the most telling reason, for the caller's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoNode {
    #[error("the box has no node that is up")]
    NoneUp,
    #[error("no node carries the labels the function asks for ({0})")]
    Labels(String),
    #[error("no node has {want} MB of memory free for the function (most free: {best} MB)")]
    Memory { want: u64, best: u64 },
    #[error("every node runs its maximum of workers")]
    Full,
    #[error("node {0} is no longer in the box")]
    Gone(String),
}

/// The index of the best candidate, or why none fits.
pub fn place(candidates: &[Candidate<'_>], want: &Want<'_>) -> Result<usize, NoNode> {
    let up: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].accepting)
        .collect();
    if up.is_empty() {
        return Err(NoNode::NoneUp);
    }
    let labelled: Vec<usize> = up
        .into_iter()
        .filter(|&i| labels_fit(candidates[i].labels, want))
        .collect();
    if labelled.is_empty() {
        return Err(NoNode::Labels(describe(want)));
    }
    let with_slot: Vec<usize> = labelled
        .into_iter()
        .filter(|&i| candidates[i].workers < candidates[i].capacity)
        .collect();
    if with_slot.is_empty() {
        return Err(NoNode::Full);
    }
    let free = |c: &Candidate<'_>| c.memory_mb.saturating_sub(c.memory_used_mb);
    let fitting: Vec<usize> = with_slot
        .iter()
        .copied()
        .filter(|&i| free(&candidates[i]) >= want.memory_mb)
        .collect();
    let best_free = with_slot
        .iter()
        .map(|&i| free(&candidates[i]))
        .max()
        .unwrap_or(0);
    fitting
        .into_iter()
        .min_by(|&a, &b| {
            let (ca, cb) = (&candidates[a], &candidates[b]);
            cb.holds_image
                .cmp(&ca.holds_image)
                .then(load(ca, want).total_cmp(&load(cb, want)))
                .then(ca.name.cmp(cb.name))
        })
        .ok_or(NoNode::Memory {
            want: want.memory_mb,
            best: best_free,
        })
}

/// How full the node would be with the new worker: the larger of its memory share and
/// its worker-slot share, so neither runs out first.
fn load(c: &Candidate<'_>, want: &Want<'_>) -> f64 {
    let memory = (c.memory_used_mb + want.memory_mb) as f64 / c.memory_mb.max(1) as f64;
    let slots = f64::from(c.workers + 1) / f64::from(c.capacity.max(1));
    memory.max(slots)
}

fn labels_fit(labels: &BTreeMap<String, String>, want: &Want<'_>) -> bool {
    let has = |(k, v): (&String, &String)| labels.get(k) == Some(v);
    want.require.is_none_or(|r| r.iter().all(has)) && want.avoid.is_none_or(|a| !a.iter().any(has))
}

fn describe(want: &Want<'_>) -> String {
    let pairs = |m: Option<&BTreeMap<String, String>>, sign: &str| -> Vec<String> {
        m.into_iter()
            .flatten()
            .map(|(k, v)| format!("{sign}{k}={v}"))
            .collect()
    };
    let mut all = pairs(want.require, "");
    all.extend(pairs(want.avoid, "not "));
    all.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node<'a>(
        name: &'a str,
        labels: &'a BTreeMap<String, String>,
        memory_mb: u64,
    ) -> Candidate<'a> {
        Candidate {
            name,
            labels,
            accepting: true,
            memory_mb,
            memory_used_mb: 0,
            capacity: 64,
            workers: 0,
            holds_image: false,
        }
    }

    fn want(memory_mb: u64) -> Want<'static> {
        Want {
            memory_mb,
            ..Want::default()
        }
    }

    #[test]
    fn a_function_goes_where_its_memory_fits() {
        let none = BTreeMap::new();
        let nodes = [node("small", &none, 512), node("big", &none, 4096)];
        assert_eq!(place(&nodes, &want(1024)), Ok(1));
        assert_eq!(
            place(&nodes, &want(8192)),
            Err(NoNode::Memory {
                want: 8192,
                best: 4096
            })
        );
    }

    #[test]
    fn the_least_loaded_node_wins_and_equal_nodes_are_chosen_by_name() {
        let none = BTreeMap::new();
        let mut nodes = [node("b", &none, 2048), node("a", &none, 2048)];
        assert_eq!(place(&nodes, &want(128)), Ok(1), "a before b when equal");
        nodes[1].memory_used_mb = 1024;
        assert_eq!(place(&nodes, &want(128)), Ok(0));
        nodes[0].memory_used_mb = 1024;
        nodes[0].workers = 60;
        assert_eq!(place(&nodes, &want(128)), Ok(1), "slots count as load too");
    }

    #[test]
    fn a_node_holding_the_image_is_preferred_while_it_fits() {
        let none = BTreeMap::new();
        let mut nodes = [node("a", &none, 4096), node("b", &none, 4096)];
        nodes[1].holds_image = true;
        nodes[1].memory_used_mb = 2048;
        assert_eq!(place(&nodes, &want(512)), Ok(1));
        nodes[1].memory_used_mb = 4000;
        assert_eq!(place(&nodes, &want(512)), Ok(0), "unless it is full");
    }

    #[test]
    fn labels_pin_and_keep_off() {
        let (gpu, dmz, none) = (
            labels(&[("gpu", "true")]),
            labels(&[("zone", "dmz"), ("gpu", "true")]),
            BTreeMap::new(),
        );
        let nodes = [
            node("plain", &none, 4096),
            node("gpu", &gpu, 1024),
            node("dmz", &dmz, 8192),
        ];
        let require = labels(&[("gpu", "true")]);
        let avoid = labels(&[("zone", "dmz")]);
        let pinned = Want {
            memory_mb: 128,
            require: Some(&require),
            avoid: Some(&avoid),
        };
        assert_eq!(place(&nodes, &pinned), Ok(1));
        let kept_off = Want {
            memory_mb: 128,
            avoid: Some(&avoid),
            ..Want::default()
        };
        assert_eq!(place(&nodes, &kept_off), Ok(0));
        let nowhere = labels(&[("arch", "arm64")]);
        assert_eq!(
            place(
                &nodes,
                &Want {
                    memory_mb: 128,
                    require: Some(&nowhere),
                    avoid: None
                }
            ),
            Err(NoNode::Labels("arch=arm64".into()))
        );
    }

    #[test]
    fn down_draining_and_full_nodes_get_nothing() {
        let none = BTreeMap::new();
        let mut nodes = [node("a", &none, 4096), node("b", &none, 4096)];
        nodes[0].accepting = false;
        assert_eq!(place(&nodes, &want(128)), Ok(1));
        nodes[1].workers = 64;
        assert_eq!(place(&nodes, &want(128)), Err(NoNode::Full));
        nodes[1].accepting = false;
        assert_eq!(place(&nodes, &want(128)), Err(NoNode::NoneUp));
    }
}
