//! `wasi:io/streams` for plugins, without tokio.
//!
//! wasmtime-wasi's synchronous streams run every blocking stream call (each `eprintln!` and
//! `println!` of a plugin, each panic message, the drop of a stream) through
//! `Handle::block_on` when a tokio runtime is current, and on a runtime's worker thread that
//! panics ("Cannot start a runtime from within a runtime"). The agent calls plugins from
//! async code: the API scores its small batches in place, and start-up configures the
//! plugins. A plugin that printed anything there failed the request (no answer, its logs not
//! stored), or the start. Leaving the runtime for every call (`block_in_place`) was tried:
//! `--bench http_load -- --seconds 6 --connections 12` at batch 1 went from 24,724 to 14,593
//! requests/s, the agent's CPU from 52 to 87 µs per request.
//!
//! A plugin's only streams are its stdin (empty), stdout (dropped) and stderr (kept in
//! memory): it has no files or sockets, so every stream is always ready. These are the same
//! synchronous functions, each running wasmtime-wasi-io's own asynchronous host to
//! completion with a plain executor, which needs no runtime and ends at once here. The
//! linker takes them in place of wasmtime-wasi's (see `PluginEngine::new`).

use super::engine::PluginState;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::poll::Pollable;
use wasmtime_wasi::p2::bindings::sync::io::streams::{self, InputStream, OutputStream};
use wasmtime_wasi::p2::{StreamError, StreamResult};
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    Host as AsyncHost, HostInputStream as AsyncInput, HostOutputStream as AsyncOutput,
};

/// Put these streams in `linker` in place of the ones `add_to_linker_sync` gave it.
pub(super) fn shadow_streams(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = streams::add_to_linker::<PluginState, PluginIo>(linker, |state| PluginStreams(&mut state.table));
    linker.allow_shadowing(false);
    added
}

struct PluginIo;

impl HasData for PluginIo {
    type Data<'a> = PluginStreams<'a>;
}

/// A plugin's resource table, seen as its streams.
pub(super) struct PluginStreams<'a>(&'a mut ResourceTable);

/// Run a stream call of wasmtime-wasi-io's asynchronous host to its end.
fn run<F: Future>(call: F) -> F::Output {
    futures_executor::block_on(call)
}

impl streams::Host for PluginStreams<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        Ok(AsyncHost::convert_stream_error(self.0, err)?.into())
    }
}

impl streams::HostOutputStream for PluginStreams<'_> {
    fn drop(&mut self, stream: Resource<OutputStream>) -> wasmtime::Result<()> {
        run(AsyncOutput::drop(self.0, stream))
    }

    fn check_write(&mut self, stream: Resource<OutputStream>) -> StreamResult<u64> {
        AsyncOutput::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<OutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        AsyncOutput::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(&mut self, stream: Resource<OutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        run(AsyncOutput::blocking_write_and_flush(self.0, stream, bytes))
    }

    fn blocking_write_zeroes_and_flush(&mut self, stream: Resource<OutputStream>, len: u64) -> StreamResult<()> {
        run(AsyncOutput::blocking_write_zeroes_and_flush(self.0, stream, len))
    }

    fn subscribe(&mut self, stream: Resource<OutputStream>) -> wasmtime::Result<Resource<Pollable>> {
        AsyncOutput::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<OutputStream>, len: u64) -> StreamResult<()> {
        AsyncOutput::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<OutputStream>) -> StreamResult<()> {
        AsyncOutput::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<OutputStream>) -> StreamResult<()> {
        run(AsyncOutput::blocking_flush(self.0, stream))
    }

    fn splice(&mut self, dst: Resource<OutputStream>, src: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        AsyncOutput::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        run(AsyncOutput::blocking_splice(self.0, dst, src, len))
    }
}

impl streams::HostInputStream for PluginStreams<'_> {
    fn drop(&mut self, stream: Resource<InputStream>) -> wasmtime::Result<()> {
        run(AsyncInput::drop(self.0, stream))
    }

    fn read(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        AsyncInput::read(self.0, stream, len)
    }

    fn blocking_read(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        run(AsyncInput::blocking_read(self.0, stream, len))
    }

    fn skip(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        AsyncInput::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        run(AsyncInput::blocking_skip(self.0, stream, len))
    }

    fn subscribe(&mut self, stream: Resource<InputStream>) -> wasmtime::Result<Resource<Pollable>> {
        AsyncInput::subscribe(self.0, stream)
    }
}
