//! A faithful SignalWire Relay v2 server (in progress).
