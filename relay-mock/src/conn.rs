//! The number of a WebSocket connection: plain data shared by the server core, its
//! transcripts and the network front end.

/// A WebSocket connection, numbered from 1 in the order they were opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);
