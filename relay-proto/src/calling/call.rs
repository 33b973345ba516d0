//! A call in the registry: its info and its live components, and the registry itself.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use crate::calling::components::Component;
use crate::calling::info::CallInfo;
use crate::ids::{CallId, ControlId, NodeId};

/// A call in the registry: its info and its unfinished components.
///
/// Kept small (24 bytes) because a held call keeps it for its whole life: the info is the
/// one shared `Arc` the events and the client's handles hold, and the components list is
/// allocated only while a component runs.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub info: SharedInfo,
    pub components: Components,
}

impl Call {
    pub(crate) fn new(info: CallInfo) -> Self {
        Call {
            info: SharedInfo(Arc::new(info)),
            components: Components::default(),
        }
    }
}

/// The registry's [`CallInfo`], shared (one `Arc`) with the events that carry it and with
/// every holder outside (the client keeps the same `Arc` for its handles). Reads go straight
/// through; a write (`DerefMut`) copies the info first if someone else still holds it, so a
/// holder never sees the registry change under it and keeps what it was given.
#[derive(Debug, Clone)]
pub(crate) struct SharedInfo(Arc<CallInfo>);

impl SharedInfo {
    /// The shared info, for a holder outside the registry.
    pub(crate) fn arc(&self) -> &Arc<CallInfo> {
        &self.0
    }
}

impl Deref for SharedInfo {
    type Target = CallInfo;

    fn deref(&self) -> &CallInfo {
        &self.0
    }
}

impl DerefMut for SharedInfo {
    fn deref_mut(&mut self) -> &mut CallInfo {
        Arc::make_mut(&mut self.0)
    }
}

use crate::ids::IdHasher as Hasher;

/// The call registry by call id: a hash map (lookups on every event and command hash the id
/// once instead of comparing it with ~log2(n) others), iterated in call id order where order
/// shows (transport lost, session stopped), so outputs stay the same run to run.
#[derive(Debug, Default)]
pub(crate) struct Calls(HashMap<CallId, Call, Hasher>);

impl Calls {
    pub(crate) fn get(&self, id: &CallId) -> Option<&Call> {
        self.0.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: &CallId) -> Option<&mut Call> {
        self.0.get_mut(id)
    }

    pub(crate) fn contains_key(&self, id: &CallId) -> bool {
        self.0.contains_key(id)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Inserts (or replaces, returning the old one) the call of `id`.
    pub(crate) fn insert(&mut self, id: CallId, call: Call) -> Option<Call> {
        match self.0.entry(id) {
            Entry::Occupied(mut e) => Some(std::mem::replace(e.get_mut(), call)),
            Entry::Vacant(e) => {
                e.insert(call);
                None
            }
        }
    }

    /// Removes the call of `id`; the table shrinks once it is mostly empty.
    pub(crate) fn remove(&mut self, id: &CallId) -> Option<Call> {
        let call = self.0.remove(id)?;
        if self.0.capacity() > 64 && self.0.len() < self.0.capacity() / 4 {
            self.0.shrink_to(self.0.len() * 2);
        }
        Some(call)
    }

    /// The calls in call id order.
    // The hash order never shows: it is sorted away at once.
    #[allow(clippy::disallowed_methods)]
    fn sorted(&self) -> Vec<(&CallId, &Call)> {
        let mut v: Vec<_> = self.0.iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// The call ids, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &CallId> {
        self.sorted().into_iter().map(|(k, _)| k)
    }

    /// The calls, in call id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Call> {
        self.sorted().into_iter().map(|(_, c)| c)
    }
}

impl<'a> IntoIterator for &'a Calls {
    type Item = (&'a CallId, &'a Call);
    type IntoIter = std::vec::IntoIter<(&'a CallId, &'a Call)>;

    fn into_iter(self) -> Self::IntoIter {
        self.sorted().into_iter()
    }
}

impl IntoIterator for Calls {
    type Item = (CallId, Call);
    type IntoIter = std::vec::IntoIter<(CallId, Call)>;

    fn into_iter(self) -> Self::IntoIter {
        let mut v: Vec<_> = self.0.into_iter().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v.into_iter()
    }
}

/// Strings many calls share (node ids, contexts): one allocation per distinct value in a
/// session, so a held call holds a reference count, not a copy. Bounded: past
/// [`Names::LIMIT`] distinct values still in use, new ones are not shared.
#[derive(Debug, Default)]
pub(crate) struct Names(std::collections::HashSet<Arc<str>, Hasher>);

impl Names {
    /// At most this many distinct names are kept.
    const LIMIT: usize = 64;

    /// The shared copy of `s`.
    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(n) = self.0.get(s) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(s);
        if self.0.len() >= Self::LIMIT {
            // Forget the names no call uses any more.
            self.0.retain(|n| Arc::strong_count(n) > 1);
        }
        if self.0.len() < Self::LIMIT {
            self.0.insert(n.clone());
        }
        n
    }

    /// The shared copy of a node id.
    pub(crate) fn node_id(&mut self, id: Option<NodeId>) -> Option<NodeId> {
        id.map(|id| NodeId::from(self.get(id.as_str())))
    }
}

/// A call's unfinished components, ordered by control id (as a `BTreeMap` would be).
///
/// A call runs few components at once (usually none or one), so a sorted list that exists
/// only while a component runs and gives its memory back once empty costs a held call 8
/// bytes, where a `BTreeMap` kept an empty 11-slot leaf (~4.7 KB) for the rest of the call's
/// life. One component (the common case) is one allocation; more make a `Vec`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Components(Option<Box<List>>);

// Always behind the box above: its size is that one allocation, sized for the common case.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum List {
    One((ControlId, Component)),
    Many(Vec<(ControlId, Component)>),
}

impl Components {
    fn list(&self) -> &[(ControlId, Component)] {
        match self.0.as_deref() {
            None => &[],
            Some(List::One(entry)) => std::slice::from_ref(entry),
            Some(List::Many(v)) => v.as_slice(),
        }
    }

    fn list_mut(&mut self) -> &mut [(ControlId, Component)] {
        match self.0.as_deref_mut() {
            None => &mut [],
            Some(List::One(entry)) => std::slice::from_mut(entry),
            Some(List::Many(v)) => v.as_mut_slice(),
        }
    }

    fn find(&self, id: &ControlId) -> Result<usize, usize> {
        self.list().binary_search_by(|(k, _)| k.cmp(id))
    }

    pub(crate) fn len(&self) -> usize {
        self.list().len()
    }

    /// Inserts (or replaces, returning the old one) the component of `id`.
    pub(crate) fn insert(&mut self, id: ControlId, comp: Component) -> Option<Component> {
        let at = match self.find(&id) {
            Ok(i) => {
                return self
                    .list_mut()
                    .get_mut(i)
                    .map(|slot| std::mem::replace(&mut slot.1, comp))
            }
            Err(i) => i,
        };
        self.0 = Some(Box::new(match self.0.take().map(|b| *b) {
            None => List::One((id, comp)),
            Some(List::One(first)) => {
                let mut v = Vec::with_capacity(2);
                v.push(first);
                v.insert(at, (id, comp));
                List::Many(v)
            }
            Some(List::Many(mut v)) => {
                v.insert(at, (id, comp));
                List::Many(v)
            }
        }));
        None
    }

    /// Removes the component of `id`; the storage goes once the last one has.
    pub(crate) fn remove(&mut self, id: &ControlId) -> Option<Component> {
        let i = self.find(id).ok()?;
        match self.0.as_deref_mut()? {
            List::Many(v) if v.len() > 1 => Some(v.remove(i).1),
            _ => self.0.take().and_then(|b| match *b {
                List::One((_, comp)) => Some(comp),
                List::Many(mut v) => v.pop().map(|(_, comp)| comp),
            }),
        }
    }

    pub(crate) fn contains_key(&self, id: &ControlId) -> bool {
        self.find(id).is_ok()
    }

    pub(crate) fn get(&self, id: &ControlId) -> Option<&Component> {
        let i = self.find(id).ok()?;
        self.list().get(i).map(|(_, c)| c)
    }

    pub(crate) fn get_mut(&mut self, id: &ControlId) -> Option<&mut Component> {
        let i = self.find(id).ok()?;
        self.list_mut().get_mut(i).map(|(_, c)| c)
    }

    /// The control ids, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &ControlId> {
        self.list().iter().map(|(k, _)| k)
    }
}

impl IntoIterator for Components {
    type Item = (ControlId, Component);
    type IntoIter = std::vec::IntoIter<(ControlId, Component)>;

    fn into_iter(self) -> Self::IntoIter {
        match self.0.map(|list| *list) {
            None => Vec::new().into_iter(),
            Some(List::One(entry)) => vec![entry].into_iter(),
            Some(List::Many(v)) => v.into_iter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calling::ComponentKind;

    /// Kept in control-id order whatever the insertion order; removal from one, two or
    /// three; replacing returns the old one; the storage goes with the last.
    #[test]
    fn components_stay_ordered_and_go_with_the_last() {
        let kinds = [
            ComponentKind::Play,
            ComponentKind::Record,
            ComponentKind::Tap,
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            for gone_first in 0..3 {
                let mut c = Components::default();
                for &i in &order {
                    let id = ControlId::new(format!("c{i}"));
                    assert!(c.insert(id, Component::new(kinds[i])).is_none());
                }
                let keys: Vec<_> = c.keys().map(|k| k.as_str().to_owned()).collect();
                assert_eq!(keys, ["c0", "c1", "c2"]);
                let old = c.insert(ControlId::new("c1"), Component::new(ComponentKind::Play));
                assert_eq!(old.map(|o| o.kind), Some(ComponentKind::Record));
                let first = ControlId::new(format!("c{gone_first}"));
                assert!(c.remove(&first).is_some());
                assert!(c.remove(&first).is_none());
                assert_eq!(c.len(), 2);
                for id in ["c0", "c1", "c2"] {
                    let id = ControlId::new(id);
                    assert_eq!(c.contains_key(&id), id != first);
                    if id != first {
                        assert!(c.get_mut(&id).is_some());
                        assert!(c.remove(&id).is_some());
                    }
                }
                assert_eq!(c.len(), 0);
                assert!(c.0.is_none(), "no storage once empty");
                assert_eq!(c.into_iter().count(), 0);
            }
        }
        let mut one = Components::default();
        one.insert(ControlId::new("x"), Component::new(ComponentKind::Play));
        assert_eq!(one.clone().into_iter().count(), 1);
        assert_eq!(
            one.remove(&ControlId::new("x")).map(|c| c.kind),
            Some(ComponentKind::Play)
        );
        assert!(one.0.is_none());
    }

    #[test]
    fn names_are_shared_and_bounded() {
        let mut names = Names::default();
        let a = names.get("office");
        let b = names.get("office");
        assert!(Arc::ptr_eq(&a, &b), "one allocation per distinct name");
        let n1 = names
            .node_id(Some(NodeId::new("node-1@west")))
            .expect("node");
        let n2 = names
            .node_id(Some(NodeId::new("node-1@west")))
            .expect("node");
        assert_eq!(n1.as_str().as_ptr(), n2.as_str().as_ptr());
        assert_eq!(names.node_id(None), None);
        // Past the limit, names nobody holds are forgotten; held ones stay shared.
        for i in 0..(Names::LIMIT * 3) {
            let _ = names.get(&format!("ctx-{i}"));
        }
        assert!(names.0.len() <= Names::LIMIT);
        assert!(Arc::ptr_eq(&a, &names.get("office")));
    }

    #[test]
    fn registry_iterates_in_call_id_order_and_shrinks() {
        let mut calls = Calls::default();
        let ids: Vec<CallId> = (0..200)
            .map(|i| CallId::new(format!("c{:03}", (i * 7919) % 200)))
            .collect();
        for id in &ids {
            assert!(calls
                .insert(id.clone(), Call::new(CallInfo::new(id.clone())))
                .is_none());
        }
        assert_eq!(calls.len(), 200);
        let keys: Vec<&str> = calls.keys().map(CallId::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert_eq!(
            calls.values().next().map(|c| c.info.id.as_str()),
            Some("c000")
        );
        for id in &ids[..190] {
            assert!(calls.remove(id).is_some());
        }
        assert!(calls.0.capacity() < 64, "the table gives memory back");
        let left: Vec<String> = calls.into_iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(left.len(), 10);
    }

    #[test]
    fn shared_info_copies_on_write_only_while_held() {
        let mut call = Call::new(CallInfo::new(CallId::new("c")));
        let held = call.info.arc().clone();
        call.info.context = Some(Arc::from("office"));
        assert_eq!(held.context, None, "a holder keeps what it was given");
        assert!(!Arc::ptr_eq(&held, call.info.arc()));
        drop(held);
        let before = Arc::as_ptr(call.info.arc());
        call.info.context = None;
        assert_eq!(
            before,
            Arc::as_ptr(call.info.arc()),
            "no copy when nobody holds it"
        );
    }

    #[test]
    fn components_allocate_only_while_one_runs() {
        let c = Components::default();
        assert!(c.0.is_none() && c.len() == 0 && c.keys().next().is_none());
        assert!(std::mem::size_of::<Call>() <= 24);
    }
}
