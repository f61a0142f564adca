//! The stage graph of a spec: built into a `petgraph` graph, checked
//! (dangling edges, cycles named by their path, one input per stage,
//! reachability from the input stage, kinds of connected stages) and ordered.

use std::collections::{HashMap, VecDeque};

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use super::spec::{in_stage, spec_error, stage_config, PortKind, SegmentSpec, StageConfig};
use crate::KernelError;

/// A checked, ordered segment.
#[derive(Debug)]
pub struct Plan {
    /// Stage ids, in spec order (a stage's index is its position here).
    pub ids: Vec<String>,
    pub configs: Vec<StageConfig>,
    /// Every stage, each after the stage that feeds it.
    pub order: Vec<usize>,
    /// The stage feeding each stage (None for the input stage).
    pub parent: Vec<Option<usize>>,
    /// The stages each stage feeds, in edge order.
    pub children: Vec<Vec<usize>>,
    /// The stage that takes the segment's input.
    pub input: usize,
    /// The stages whose outputs are returned, in spec order.
    pub outputs: Vec<usize>,
}

/// The path of a cycle through `start` (which toposort found on one), as
/// stage ids: `a -> b -> a`.
fn cycle_path(g: &DiGraph<usize, ()>, start: NodeIndex, ids: &[String]) -> String {
    // Breadth-first from start's successors until start comes back.
    let mut came_from: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut last = None;
    'search: while let Some(n) = queue.pop_front() {
        for m in g.neighbors_directed(n, Direction::Outgoing) {
            if m == start {
                last = Some(n);
                break 'search;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = came_from.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    let mut path = vec![start];
    if let Some(mut n) = last {
        let mut back = vec![n];
        while n != start {
            n = came_from[&n];
            back.push(n);
        }
        back.pop(); // start itself
        path.extend(back.into_iter().rev());
        path.push(start);
    }
    path.iter()
        .map(|&n| format!("{:?}", ids[g[n]]))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Validates `spec` and orders its stages.
pub fn plan(spec: &SegmentSpec) -> Result<Plan, KernelError> {
    if spec.stages.is_empty() {
        return Err(spec_error(
            "stages: expected at least one stage, given none",
        ));
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut configs = Vec::with_capacity(spec.stages.len());
    for (i, stage) in spec.stages.iter().enumerate() {
        if stage.id.is_empty() {
            return Err(spec_error(format!(
                "stages[{i}].id: expected a non-empty string, given \"\""
            )));
        }
        if index.insert(stage.id.as_str(), i).is_some() {
            return Err(spec_error(format!(
                "stages: expected unique ids, given {:?} twice",
                stage.id
            )));
        }
        configs.push(stage_config(stage).map_err(|e| in_stage(&stage.id, e))?);
    }
    let ids: Vec<String> = spec.stages.iter().map(|s| s.id.clone()).collect();
    let find = |id: &str, what: &str| {
        index.get(id).copied().ok_or_else(|| {
            spec_error(format!(
                "{what}: expected the id of a stage, given {id:?} (no such stage)"
            ))
        })
    };
    let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(ids.len(), spec.edges.len());
    let nodes: Vec<NodeIndex> = (0..ids.len()).map(|i| g.add_node(i)).collect();
    for (k, e) in spec.edges.iter().enumerate() {
        let from = find(&e.from, &format!("edges[{k}].from"))?;
        let to = find(&e.to, &format!("edges[{k}].to"))?;
        g.add_edge(nodes[from], nodes[to], ());
    }
    let sorted = toposort(&g, None).map_err(|cycle| {
        spec_error(format!(
            "edges: expected no cycle, given the cycle {}",
            cycle_path(&g, cycle.node_id(), &ids)
        ))
    })?;
    let mut parent = vec![None; ids.len()];
    let mut children = vec![Vec::new(); ids.len()];
    for e in &spec.edges {
        let (from, to) = (index[e.from.as_str()], index[e.to.as_str()]);
        if let Some(p) = parent[to] {
            return Err(spec_error(format!(
                "stage {:?}: expected at most one input edge, given edges from {:?} and {:?}",
                ids[to], ids[p], ids[from]
            )));
        }
        parent[to] = Some(from);
        children[from].push(to);
    }
    let input = find(&spec.input, "input")?;
    if let Some(p) = parent[input] {
        return Err(spec_error(format!(
            "input: expected a stage without input edges, given {:?} (fed by {:?})",
            ids[input], ids[p]
        )));
    }
    for (i, p) in parent.iter().enumerate() {
        if p.is_none() && i != input {
            return Err(spec_error(format!(
                "stage {:?}: expected to be fed by another stage or to be the input stage {:?}, given no input edge",
                ids[i], ids[input]
            )));
        }
    }
    // One input per stage, no cycle, and every stage but the input fed:
    // every stage is reachable from the input stage.
    for e in &spec.edges {
        let (from, to) = (index[e.from.as_str()], index[e.to.as_str()]);
        let (out, inp) = (configs[from].output_kind(), configs[to].input_kind());
        if out != inp {
            return Err(spec_error(format!(
                "edges: stage {:?} ({}) gives {}, but stage {:?} ({}) takes {}",
                ids[from],
                configs[from].kind_name(),
                out.name(),
                ids[to],
                configs[to].kind_name(),
                inp.name()
            )));
        }
    }
    if !matches!(
        configs[input].input_kind(),
        PortKind::Audio | PortKind::Video
    ) {
        return Err(spec_error(
            "input: expected a stage that takes audio or video",
        ));
    }
    let mut outputs = Vec::with_capacity(spec.outputs.len());
    for (k, id) in spec.outputs.iter().enumerate() {
        let o = find(id, &format!("outputs[{k}]"))?;
        if outputs.contains(&o) {
            return Err(spec_error(format!(
                "outputs: expected unique stage ids, given {id:?} twice"
            )));
        }
        outputs.push(o);
    }
    Ok(Plan {
        ids,
        configs,
        order: sorted.into_iter().map(|n| g[n]).collect(),
        parent,
        children,
        input,
        outputs,
    })
}
