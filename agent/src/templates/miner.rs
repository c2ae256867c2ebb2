//! The Drain parse tree (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth
//! Tree", ICWS 2017): a masked line goes to the node for its token count, then down one level
//! per leading token (`depth` levels at most; a token holding a variable follows the `<*>`
//! branch), and joins the most similar template in that leaf if the share of equal tokens
//! reaches `similarity`; otherwise it starts a new template there. A template that takes a
//! line turns the positions where they differ into `<*>`.
//!
//! Memory is bounded: at most `max_clusters` templates, the least recently matched one evicted
//! first (its id is never reused), at most `max_children` branches per node, and a node left
//! without templates below it is removed. Lines are capped at `max_tokens` tokens.
//!
//! Hand-written: crates.io has Drain ports (drain-rs 0.2, drainrs 0.1, drain3 0.1, drain-flow,
//! logdrain 0.3), but none is established or widely used, each brings its own regex masking
//! and locking that the pipeline does not need, and reaching the grouping accuracy we target
//! needed control of the masking and of the similarity rule (see `docs/templates.md`).

use super::config::MinerConfig;
use super::mask::{WILDCARD, mask_line};
use rustc_hash::FxHashMap;

const NIL: u32 = u32::MAX;

/// What [`Miner::add`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mined {
    /// The template's id: unique for the miner's lifetime, never reused after eviction.
    pub id: i64,
    /// The template's slot, for [`Miner::template`]; valid until the next `add`.
    pub slot: u32,
    /// The line started a new template.
    pub created: bool,
    /// The line generalised its template (new `<*>` positions) or created it: its text changed.
    pub changed: bool,
}

/// One template (a Drain "log cluster").
#[derive(Debug)]
struct Cluster {
    id: i64,
    tokens: Vec<Box<str>>,
    count: u64,
    /// The leaves listing this template: where it was created, and where lines that found it
    /// only by the fallback search came from (at most `MAX_LEAVES`).
    leaves: Vec<u32>,
    /// Neighbours in the recency list (towards the most and the least recent).
    newer: u32,
    older: u32,
}

#[derive(Debug, Default)]
struct Node {
    /// NIL for the per-length nodes under the root.
    parent: u32,
    /// The key in the parent's `children` (for a length node: empty).
    key: Box<str>,
    /// The token count, for a length node.
    length: u32,
    children: FxHashMap<Box<str>, u32>,
    /// In a leaf: the templates reached here. In a length node: every template of that length.
    clusters: Vec<u32>,
}

/// Most leaves one template is listed in.
const MAX_LEAVES: usize = 8;

/// An online template miner for one stream of lines. Not thread-safe: one per source.
#[derive(Debug)]
pub struct Miner {
    config: MinerConfig,
    /// Length nodes, by token count.
    lengths: FxHashMap<u32, u32>,
    nodes: Vec<Node>,
    free_nodes: Vec<u32>,
    clusters: Vec<Option<Cluster>>,
    free_clusters: Vec<u32>,
    live: usize,
    /// Most and least recently matched templates.
    newest: u32,
    oldest: u32,
    next_id: i64,
    evicted: u64,
    masked: String,
}

impl Miner {
    /// An empty miner whose template ids start at 1.
    pub fn new(config: MinerConfig) -> Miner {
        Miner::starting_at(config, 1)
    }

    /// An empty miner whose template ids start at `first_id`.
    pub fn starting_at(config: MinerConfig, first_id: i64) -> Miner {
        Miner {
            config,
            lengths: FxHashMap::default(),
            nodes: Vec::new(),
            free_nodes: Vec::new(),
            clusters: Vec::new(),
            free_clusters: Vec::new(),
            live: 0,
            newest: NIL,
            oldest: NIL,
            next_id: first_id,
            evicted: 0,
            masked: String::new(),
        }
    }

    /// The id the next new template gets.
    pub fn next_id(&self) -> i64 {
        self.next_id
    }

    /// Makes the next new template's id `id` (for miners that share one id counter).
    pub fn set_next_id(&mut self, id: i64) {
        self.next_id = id;
    }

    /// Templates held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no template is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Templates evicted so far to stay within `max_clusters`.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The text of the template in `slot` (tokens joined by one space, variables as `<*>`),
    /// or `None` for a slot that holds none.
    pub fn template(&self, slot: u32) -> Option<String> {
        let cluster = self.clusters.get(slot as usize)?.as_ref()?;
        Some(cluster.tokens.join(" "))
    }

    /// The id and line count of the template in `slot`.
    pub fn stats(&self, slot: u32) -> Option<(i64, u64)> {
        let cluster = self.clusters.get(slot as usize)?.as_ref()?;
        Some((cluster.id, cluster.count))
    }

    /// Mines one line; `None` for a line without any token (blank).
    pub fn add(&mut self, line: &str) -> Option<Mined> {
        let mut masked = std::mem::take(&mut self.masked);
        mask_line(line, &mut masked);
        let mut tokens: Vec<&str> = masked.split(' ').filter(|t| !t.is_empty()).collect();
        if tokens.is_empty() {
            self.masked = masked;
            return None;
        }
        tokens.truncate(self.config.max_tokens);
        let found = self.search(&tokens).or_else(|| {
            let slot = self.search_length(&tokens)?;
            // Found away from its leaf (a variable among the leading tokens): list it in this
            // line's leaf too, so the next such line finds it there.
            if self.clusters[slot as usize].as_ref().is_some_and(|c| c.leaves.len() < MAX_LEAVES) {
                let leaf = self.leaf_for(&tokens);
                let cluster = self.clusters[slot as usize].as_mut().expect("a found slot holds a template");
                if !cluster.leaves.contains(&leaf) {
                    cluster.leaves.push(leaf);
                    self.nodes[leaf as usize].clusters.push(slot);
                }
            }
            Some(slot)
        });
        let mined = match found {
            Some(slot) => {
                let changed = self.merge(slot, &tokens);
                self.touch(slot);
                let cluster = self.clusters[slot as usize].as_mut().expect("a found slot holds a template");
                cluster.count += 1;
                Mined { id: cluster.id, slot, created: false, changed }
            }
            None => {
                let id = self.next_id;
                self.next_id += 1;
                let slot = self.insert(id, tokens.iter().map(|t| Box::<str>::from(*t)).collect(), 1);
                Mined { id, slot, created: true, changed: true }
            }
        };
        self.masked = masked;
        Some(mined)
    }

    /// Puts back a template saved earlier (text as [`Miner::template`] gave it), keeping its
    /// id; ids handed out later are above it. Restored templates count as the least recent.
    pub fn restore(&mut self, id: i64, template: &str, count: u64) {
        let tokens: Vec<Box<str>> =
            template.split(' ').filter(|t| !t.is_empty()).take(self.config.max_tokens).map(Box::from).collect();
        if tokens.is_empty() {
            return;
        }
        let slot = self.insert(id, tokens, count);
        // Restored in any order, they should go before anything matched since.
        self.unlink(slot);
        self.push_oldest(slot);
        self.next_id = self.next_id.max(id + 1);
    }

    /// The best template in the line's leaf.
    fn search(&self, tokens: &[&str]) -> Option<u32> {
        let mut node = *self.lengths.get(&(tokens.len() as u32))?;
        for token in tokens.iter().take(self.config.depth) {
            let children = &self.nodes[node as usize].children;
            node = match children.get(route_key(token)) {
                Some(child) => *child,
                None => *children.get(WILDCARD)?,
            };
        }
        self.best(&self.nodes[node as usize].clusters, tokens, |_| true)
    }

    /// The best template of the line's length, wherever it sits, among those whose leading
    /// tokens differ from the line's only in dotted names: the fallback for lines that start
    /// with a variable without digits (a host, a job or package name). Leading words that
    /// differ otherwise (`GET` and `POST`, `Accepted` and `Failed`) keep events apart.
    fn search_length(&self, tokens: &[&str]) -> Option<u32> {
        let node = *self.lengths.get(&(tokens.len() as u32))?;
        let depth = self.config.depth.min(tokens.len());
        self.best(&self.nodes[node as usize].clusters, tokens, |cluster| {
            cluster.tokens[..depth]
                .iter()
                .zip(&tokens[..depth])
                .all(|(t, l)| &**t == *l || &**t == WILDCARD || (is_dotted_name(t) && is_dotted_name(l)))
        })
    }

    fn best(&self, slots: &[u32], tokens: &[&str], eligible: impl Fn(&Cluster) -> bool) -> Option<u32> {
        let mut best: Option<(u32, f64, usize)> = None;
        for &slot in slots {
            let cluster = self.clusters[slot as usize].as_ref().expect("a leaf lists live templates");
            if !eligible(cluster) {
                continue;
            }
            let (similarity, wildcards) = self.similarity(cluster, tokens);
            let better = match best {
                None => true,
                Some((_, s, w)) => similarity > s || (similarity == s && wildcards > w),
            };
            if better {
                best = Some((slot, similarity, wildcards));
            }
        }
        best.filter(|(_, s, _)| *s >= self.config.similarity).map(|(slot, _, _)| slot)
    }

    /// The share of positions where the template equals the line (a `<*>` in the template
    /// counts when the line has a variable there too), and the template's `<*>` count.
    fn similarity(&self, cluster: &Cluster, tokens: &[&str]) -> (f64, usize) {
        let mut equal = 0;
        let mut wildcards = 0;
        for (t, l) in cluster.tokens.iter().zip(tokens) {
            if &**t == WILDCARD {
                wildcards += 1;
                if l.contains(WILDCARD) {
                    equal += 1;
                }
            } else if &**t == *l {
                equal += 1;
            }
        }
        (equal as f64 / tokens.len() as f64, wildcards)
    }

    /// Generalises the template in `slot` to cover `tokens`; true if it changed.
    fn merge(&mut self, slot: u32, tokens: &[&str]) -> bool {
        let cluster = self.clusters[slot as usize].as_mut().expect("a found slot holds a template");
        let mut changed = false;
        for (t, l) in cluster.tokens.iter_mut().zip(tokens) {
            if &**t != *l && &**t != WILDCARD {
                *t = Box::from(WILDCARD);
                changed = true;
            }
        }
        changed
    }

    fn insert(&mut self, id: i64, tokens: Vec<Box<str>>, count: u64) -> u32 {
        if self.live >= self.config.max_clusters.max(1) {
            self.evict_oldest();
        }
        let leaf = self.leaf_for(&tokens);
        let length = self.lengths[&(tokens.len() as u32)];
        let cluster = Cluster { id, tokens, count, leaves: vec![leaf], newer: NIL, older: NIL };
        let slot = match self.free_clusters.pop() {
            Some(slot) => {
                self.clusters[slot as usize] = Some(cluster);
                slot
            }
            None => {
                self.clusters.push(Some(cluster));
                (self.clusters.len() - 1) as u32
            }
        };
        self.nodes[leaf as usize].clusters.push(slot);
        self.nodes[length as usize].clusters.push(slot);
        self.live += 1;
        self.push_newest(slot);
        slot
    }

    /// The leaf for a new template, creating the path to it.
    fn leaf_for<T: AsRef<str>>(&mut self, tokens: &[T]) -> u32 {
        let length = tokens.len() as u32;
        let mut node = match self.lengths.get(&length) {
            Some(node) => *node,
            None => {
                let node = self.new_node(NIL, Box::from(""), length);
                self.lengths.insert(length, node);
                node
            }
        };
        for token in tokens.iter().take(self.config.depth) {
            let mut key = route_key(token.as_ref());
            let children = &self.nodes[node as usize].children;
            if let Some(child) = children.get(key) {
                node = *child;
                continue;
            }
            if children.len() >= self.config.max_children {
                key = WILDCARD;
                if let Some(child) = children.get(key) {
                    node = *child;
                    continue;
                }
            }
            let child = self.new_node(node, Box::from(key), 0);
            self.nodes[node as usize].children.insert(Box::from(key), child);
            node = child;
        }
        node
    }

    fn new_node(&mut self, parent: u32, key: Box<str>, length: u32) -> u32 {
        let node = Node { parent, key, length, ..Node::default() };
        match self.free_nodes.pop() {
            Some(index) => {
                self.nodes[index as usize] = node;
                index
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn evict_oldest(&mut self) {
        let slot = self.oldest;
        if slot == NIL {
            return;
        }
        self.unlink(slot);
        let cluster = self.clusters[slot as usize].take().expect("the recency list holds live templates");
        self.free_clusters.push(slot);
        self.live -= 1;
        self.evicted += 1;
        let length = self.lengths[&(cluster.tokens.len() as u32)];
        self.nodes[length as usize].clusters.retain(|s| *s != slot);
        for leaf in cluster.leaves {
            self.nodes[leaf as usize].clusters.retain(|s| *s != slot);
            self.prune(leaf);
        }
    }

    /// Removes `node` if it holds nothing, and its parents that this leaves empty.
    fn prune(&mut self, mut node: u32) {
        loop {
            let n = &mut self.nodes[node as usize];
            if !n.clusters.is_empty() || !n.children.is_empty() {
                break;
            }
            let (parent, length) = (n.parent, n.length);
            let key = std::mem::take(&mut n.key);
            *n = Node::default();
            self.free_nodes.push(node);
            if parent == NIL {
                self.lengths.remove(&length);
                break;
            }
            self.nodes[parent as usize].children.remove(&key);
            node = parent;
        }
    }

    fn touch(&mut self, slot: u32) {
        if self.newest != slot {
            self.unlink(slot);
            self.push_newest(slot);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let (newer, older) = {
            let c = self.clusters[slot as usize].as_ref().expect("linked slots are live");
            (c.newer, c.older)
        };
        match newer {
            NIL => self.newest = older,
            n => self.clusters[n as usize].as_mut().expect("linked slots are live").older = older,
        }
        match older {
            NIL => self.oldest = newer,
            o => self.clusters[o as usize].as_mut().expect("linked slots are live").newer = newer,
        }
        let c = self.clusters[slot as usize].as_mut().expect("linked slots are live");
        c.newer = NIL;
        c.older = NIL;
    }

    fn push_newest(&mut self, slot: u32) {
        let old_newest = self.newest;
        {
            let c = self.clusters[slot as usize].as_mut().expect("linked slots are live");
            c.older = old_newest;
            c.newer = NIL;
        }
        match old_newest {
            NIL => self.oldest = slot,
            n => self.clusters[n as usize].as_mut().expect("linked slots are live").newer = slot,
        }
        self.newest = slot;
    }

    fn push_oldest(&mut self, slot: u32) {
        let old_oldest = self.oldest;
        {
            let c = self.clusters[slot as usize].as_mut().expect("linked slots are live");
            c.newer = old_oldest;
            c.older = NIL;
        }
        match old_oldest {
            NIL => self.newest = slot,
            o => self.clusters[o as usize].as_mut().expect("linked slots are live").older = slot,
        }
        self.oldest = slot;
    }
}

/// The branch a token follows: its own, or `<*>` when it holds a variable.
fn route_key(token: &str) -> &str {
    if token.contains(WILDCARD) { WILDCARD } else { token }
}

/// A name with a dot inside (`www.example.com:<*>`, `com.apple.job:`), not at its ends.
fn is_dotted_name(token: &str) -> bool {
    let name = token.trim_end_matches([':', ',', ';']).as_bytes();
    name.len() > 2 && name[1..name.len() - 1].contains(&b'.')
}
