//! Sources: where events come from. `file` tails log files; the WebSocket and HTTP sources
//! live with the API. A source never drops a line: what it reads goes downstream with the
//! position that covers it, so the store commits both together.

pub mod file;
