//! The simulated job's live executors and the nodes they run on.
//!
//! Executors are packed onto nodes of their capacity, `node_size` to a node,
//! filling the oldest node with room first, as a bin-packing autoscaler
//! would. A spot interruption reclaims one node: every executor on it is
//! gone at once, and the node is never reused. All bookkeeping is in
//! ordered maps and sets, so a run is the same on every machine.

use std::collections::{BTreeMap, BTreeSet};

use super::placement::Capacity;

/// A node the job's executors run on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// The node's capacity type.
    capacity: Capacity,
    /// IDs of the executors on it.
    executors: BTreeSet<u64>,
    /// Whether an interruption took it.
    reclaimed: bool,
}

/// A job's live executors.
#[derive(Debug, Clone)]
pub struct Job {
    /// Executors per node.
    node_size: u64,
    /// Live executors: ID to the index of its node.
    executors: BTreeMap<u64, usize>,
    /// Every node ever used, in creation order.
    nodes: Vec<Node>,
}

impl Job {
    /// A job with no executor, on nodes of `node_size` (at least 1).
    pub fn new(node_size: u64) -> Self {
        Self {
            node_size: node_size.max(1),
            executors: BTreeMap::new(),
            nodes: Vec::new(),
        }
    }

    /// Starts executor `id` on a node of `capacity`.
    pub fn start(&mut self, id: u64, capacity: Capacity) {
        let node_size = self.node_size;
        let free = self.nodes.iter().position(|node| {
            node.capacity == capacity
                && !node.reclaimed
                && (node.executors.len() as u64) < node_size
        });
        let index = match free {
            Some(index) => index,
            None => {
                self.nodes.push(Node {
                    capacity,
                    executors: BTreeSet::new(),
                    reclaimed: false,
                });
                self.nodes.len() - 1
            }
        };
        if let Some(node) = self.nodes.get_mut(index) {
            node.executors.insert(id);
        }
        self.executors.insert(id, index);
    }

    /// Stops executor `id`; does nothing if it is not live.
    pub fn stop(&mut self, id: u64) {
        if let Some(index) = self.executors.remove(&id) {
            if let Some(node) = self.nodes.get_mut(index) {
                node.executors.remove(&id);
            }
        }
    }

    /// Indexes of the spot nodes that run at least one executor.
    pub fn busy_spot_nodes(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| {
                node.capacity == Capacity::Spot && !node.reclaimed && !node.executors.is_empty()
            })
            .map(|(index, _)| index)
            .collect()
    }

    /// Reclaims node `index`, stopping its executors; returns their IDs.
    pub fn reclaim(&mut self, index: usize) -> Vec<u64> {
        let Some(node) = self.nodes.get_mut(index) else {
            return Vec::new();
        };
        node.reclaimed = true;
        let stopped: Vec<u64> = std::mem::take(&mut node.executors).into_iter().collect();
        for id in &stopped {
            self.executors.remove(id);
        }
        stopped
    }

    /// IDs of the live executors, in increasing order.
    pub fn live_ids(&self) -> Vec<u64> {
        self.executors.keys().copied().collect()
    }

    /// Number of live executors.
    /// Every live executor with the capacity of its node, by ID.
    pub fn live_executors(&self) -> Vec<(u64, Capacity)> {
        self.executors
            .iter()
            .filter_map(|(id, &index)| self.nodes.get(index).map(|node| (*id, node.capacity)))
            .collect()
    }

    pub fn live(&self) -> u64 {
        self.executors.len() as u64
    }

    /// Number of live executors on spot nodes.
    pub fn live_spot(&self) -> u64 {
        self.executors
            .values()
            .filter(|&&index| {
                self.nodes
                    .get(index)
                    .is_some_and(|n| n.capacity == Capacity::Spot)
            })
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executors_fill_nodes_of_their_capacity_in_order() {
        let mut job = Job::new(2);
        for (id, capacity) in [
            (1, Capacity::Spot),
            (2, Capacity::OnDemand),
            (3, Capacity::Spot),
            (4, Capacity::Spot),
        ] {
            job.start(id, capacity);
        }

        assert_eq!(job.busy_spot_nodes(), [0, 2]);
        assert_eq!(job.reclaim(0), [1, 3]);
        assert_eq!(job.live_ids(), [2, 4]);
        assert_eq!((job.live(), job.live_spot()), (2, 1));
    }

    #[test]
    fn a_reclaimed_node_is_never_reused() {
        let mut job = Job::new(4);
        job.start(1, Capacity::Spot);
        job.reclaim(0);
        job.start(2, Capacity::Spot);

        assert_eq!(job.busy_spot_nodes(), [1]);
    }

    #[test]
    fn stopping_frees_room_on_the_node() {
        let mut job = Job::new(1);
        job.start(1, Capacity::OnDemand);
        job.stop(1);
        job.stop(99);
        job.start(2, Capacity::OnDemand);

        assert_eq!(job.live_ids(), [2]);
        assert_eq!(job.live_spot(), 0);
    }

    #[test]
    fn reclaiming_an_unknown_node_stops_nothing() {
        let mut job = Job::new(3);
        job.start(1, Capacity::Spot);
        assert!(job.reclaim(5).is_empty());
        assert_eq!(job.live(), 1);
    }
}
