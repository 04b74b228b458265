//! Steps as a graph: each step waits for the steps its `depends_on` names (by default
//! the previous one). A step may depend only on earlier steps, so there are no cycles
//! and the definition's order is a valid order to start them in. What a step's
//! expressions may read of other steps is what it transitively waits for — anything
//! else may still be running when it starts.

/// A workflow's steps by index: what each waits for, directly and transitively.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub deps: Vec<Vec<usize>>,
    /// Everything a step transitively waits for, in definition order.
    pub upstream: Vec<Vec<usize>>,
}

impl Graph {
    /// From the steps' keys and their `depends_on` (`None`: the previous step). The
    /// error names the step (by index) and what is wrong.
    pub fn new(keys: &[&str], depends_on: &[Option<&[String]>]) -> Result<Graph, (usize, String)> {
        let mut deps = Vec::with_capacity(keys.len());
        for (i, named) in depends_on.iter().enumerate() {
            let list = match named {
                None => previous(i),
                Some(names) => {
                    let mut list = Vec::with_capacity(names.len());
                    for name in names.iter() {
                        let at = keys[..i].iter().position(|k| k == name).ok_or_else(|| {
                            let why = if keys.contains(&name.as_str()) {
                                "a step may depend only on steps before it"
                            } else {
                                "no such step"
                            };
                            (i, format!("depends_on {name:?}: {why}"))
                        })?;
                        if list.contains(&at) {
                            return Err((i, format!("depends_on names {name:?} twice")));
                        }
                        list.push(at);
                    }
                    list.sort_unstable();
                    list
                }
            };
            deps.push(list);
        }
        let mut upstream: Vec<Vec<usize>> = Vec::with_capacity(deps.len());
        for d in &deps {
            let mut all: Vec<usize> = d
                .iter()
                .flat_map(|&j| upstream[j].iter().copied().chain([j]))
                .collect();
            all.sort_unstable();
            all.dedup();
            upstream.push(all);
        }
        Ok(Graph { deps, upstream })
    }

    /// Whether any step has a dependency other than its predecessor (drawn in the UI).
    pub fn is_linear(&self) -> bool {
        self.deps.iter().enumerate().all(|(i, d)| *d == previous(i))
    }
}

/// The default dependency: the step before (none for the first).
fn previous(i: usize) -> Vec<usize> {
    i.checked_sub(1).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: &[(&str, Option<&[&str]>)]) -> Result<Graph, (usize, String)> {
        let keys: Vec<&str> = spec.iter().map(|(k, _)| *k).collect();
        let owned: Vec<Option<Vec<String>>> = spec
            .iter()
            .map(|(_, d)| d.map(|d| d.iter().map(|s| s.to_string()).collect()))
            .collect();
        let deps: Vec<Option<&[String]>> = owned.iter().map(|d| d.as_deref()).collect();
        Graph::new(&keys, &deps)
    }

    #[test]
    fn defaults_chain_and_explicit_lists_fan_out_and_in() {
        let g = graph(&[("a", None), ("b", None), ("c", None)]).unwrap();
        assert_eq!(g.deps, vec![vec![], vec![0], vec![1]]);
        assert_eq!(g.upstream[2], vec![0, 1]);
        assert!(g.is_linear());
        let g = graph(&[
            ("a", None),
            ("x", Some(&[])),
            ("y", Some(&["a"])),
            ("z", Some(&["y", "x"])),
        ])
        .unwrap();
        assert_eq!(g.deps, vec![vec![], vec![], vec![0], vec![1, 2]]);
        assert_eq!(g.upstream[3], vec![0, 1, 2]);
        assert_eq!(g.upstream[1], Vec::<usize>::new());
        assert!(!g.is_linear());
    }

    #[test]
    fn forward_unknown_and_repeated_dependencies_are_refused() {
        let e = graph(&[("a", Some(&["b"])), ("b", None)]).unwrap_err();
        assert_eq!(e.0, 0);
        assert!(e.1.contains("only on steps before it"), "{}", e.1);
        assert!(graph(&[("a", None), ("b", Some(&["nope"]))])
            .unwrap_err()
            .1
            .contains("no such step"));
        assert!(graph(&[("a", None), ("b", Some(&["a", "a"]))])
            .unwrap_err()
            .1
            .contains("twice"));
        assert!(graph(&[("a", Some(&["a"]))]).is_err(), "itself");
    }
}
