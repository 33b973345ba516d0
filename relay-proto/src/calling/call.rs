//! A call in the registry: its info and its live components.

use crate::calling::components::Component;
use crate::calling::info::CallInfo;
use crate::ids::ControlId;

/// A call in the registry: its info and its unfinished components.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub info: CallInfo,
    pub components: Components,
}

impl Call {
    pub(crate) fn new(info: CallInfo) -> Self {
        Call {
            info,
            components: Components::default(),
        }
    }
}

/// A call's unfinished components, ordered by control id (as a `BTreeMap` would be).
///
/// A call runs few components at once (usually none or one), so a sorted `Vec` that starts at
/// capacity one and gives its memory back once empty costs a held call nothing, where a
/// `BTreeMap` kept an empty 11-slot leaf (~4.7 KB) for the rest of the call's life.
#[derive(Debug, Clone, Default)]
pub(crate) struct Components(Vec<(ControlId, Component)>);

impl Components {
    fn find(&self, id: &ControlId) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(id))
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Inserts (or replaces, returning the old one) the component of `id`.
    pub(crate) fn insert(&mut self, id: ControlId, comp: Component) -> Option<Component> {
        match self.find(&id) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, comp)),
            Err(i) => {
                if self.0.capacity() == 0 {
                    self.0.reserve_exact(1);
                }
                self.0.insert(i, (id, comp));
                None
            }
        }
    }

    /// Removes the component of `id`; the storage goes once the last one has.
    pub(crate) fn remove(&mut self, id: &ControlId) -> Option<Component> {
        let i = self.find(id).ok()?;
        let (_, comp) = self.0.remove(i);
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
        Some(comp)
    }

    pub(crate) fn contains_key(&self, id: &ControlId) -> bool {
        self.find(id).is_ok()
    }

    pub(crate) fn get(&self, id: &ControlId) -> Option<&Component> {
        let i = self.find(id).ok()?;
        self.0.get(i).map(|(_, c)| c)
    }

    pub(crate) fn get_mut(&mut self, id: &ControlId) -> Option<&mut Component> {
        let i = self.find(id).ok()?;
        self.0.get_mut(i).map(|(_, c)| c)
    }

    /// The control ids, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &ControlId> {
        self.0.iter().map(|(k, _)| k)
    }
}

impl IntoIterator for Components {
    type Item = (ControlId, Component);
    type IntoIter = std::vec::IntoIter<(ControlId, Component)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
