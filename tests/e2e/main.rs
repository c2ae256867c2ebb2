//! End-to-end tests: they start the real `vigil` binary on 127.0.0.1 (port 0) and talk to it
//! over a real socket.

mod agent;
mod browser;
mod chat;
mod chroma;
mod cli;
mod http;
mod metrics;
mod otlp;
mod reload;
mod scoring;
mod summaries;
mod tail;
mod ws;
