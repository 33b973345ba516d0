//! A call in the registry: its info and its live components.

use std::collections::BTreeMap;

use crate::calling::components::Component;
use crate::calling::info::CallInfo;
use crate::ids::ControlId;

/// A call in the registry: its info and its unfinished components.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub info: CallInfo,
    pub components: BTreeMap<ControlId, Component>,
}

impl Call {
    pub(crate) fn new(info: CallInfo) -> Self {
        Call {
            info,
            components: BTreeMap::new(),
        }
    }
}
