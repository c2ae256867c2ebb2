//! `wasi:io/poll` and `wasi:clocks/monotonic-clock` for plugins: waits that need no tokio
//! runtime and end at the call's deadline.
//!
//! A plugin waits when it sleeps (`std::thread::sleep` is a monotonic-clock pollable and a
//! `block` on it) or polls. wasmtime-wasi's synchronous `poll` and `block` run through
//! `Handle::block_on`, which panics on a runtime worker thread, where the API scores its
//! small batches (as its streams did, see `wasi_io.rs`); and its clock pollables are tokio
//! timers. And a host call is not interrupted by the epoch deadline, so a plugin sleeping for
//! a minute held its thread for a minute whatever its `call_timeout_ms`.
//!
//! Here a clock pollable is a plain instant, and a wait polls wasmtime-wasi-io's own
//! asynchronous host with a no-op waker, sleeping the thread until the nearest instant a
//! pending clock pollable named (streams, a plugin's only other pollables, are memory pipes
//! and always ready). A wait that would outlast the call's deadline ends at the deadline
//! with [`WaitedPastDeadline`], which traps the call as the epoch deadline would. Waiting
//! on the calling thread is what a plugin computing for as long would cost it too.

use super::engine::PluginState;
use std::cell::Cell;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::sync::io::poll;
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as AsyncPoll, HostPollable as AsyncPollable};
use wasmtime_wasi_io::poll::DynPollable;

/// Longest a wait sleeps before polling again when no clock pollable said when it is due.
const POLL_STEP: Duration = Duration::from_millis(1);

/// A plugin store's clock and the deadline its waits end at.
pub(crate) struct WaitClock {
    /// Time 0 of the plugin's monotonic clock.
    base: Instant,
    /// When the running call must end; `None` outside calls.
    call_ends: Option<Instant>,
    /// The call deadline (the sandbox's `call_timeout`); outside calls (instantiation) it
    /// bounds a wait from the wait's start.
    call_timeout: Duration,
}

impl WaitClock {
    pub(crate) fn new(call_timeout: Duration) -> Self {
        WaitClock { base: Instant::now(), call_ends: None, call_timeout }
    }

    /// A call starts: its waits end `call_timeout` from now.
    pub(crate) fn start_call(&mut self) {
        self.call_ends = Some(Instant::now() + self.call_timeout);
    }

    pub(crate) fn end_call(&mut self) {
        self.call_ends = None;
    }

    fn ends(&self) -> Instant {
        self.call_ends.unwrap_or_else(|| Instant::now() + self.call_timeout)
    }
}

/// A wait of a plugin reached its call's deadline; the call traps with it.
#[derive(Debug)]
pub(crate) struct WaitedPastDeadline;

impl std::fmt::Display for WaitedPastDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline passed while the plugin waited (it slept or polled)")
    }
}

impl std::error::Error for WaitedPastDeadline {}

/// Put these in `linker` in place of the ones `add_to_linker_sync` gave it.
pub(super) fn shadow_waits(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = poll::add_to_linker::<PluginState, PluginWaitIo>(linker, PluginWaits::of)
        .and_then(|()| monotonic_clock::add_to_linker::<PluginState, PluginWaitIo>(linker, PluginWaits::of));
    linker.allow_shadowing(false);
    added
}

struct PluginWaitIo;

impl HasData for PluginWaitIo {
    type Data<'a> = PluginWaits<'a>;
}

/// A plugin's resource table and clock.
pub(super) struct PluginWaits<'a> {
    table: &'a mut ResourceTable,
    clock: &'a WaitClock,
}

impl PluginWaits<'_> {
    fn of(state: &mut PluginState) -> PluginWaits<'_> {
        PluginWaits { table: &mut state.table, clock: &state.waits }
    }
}

thread_local! {
    /// The nearest instant a clock pollable found pending in this poll was due at.
    static NEXT_DUE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Run `wait` to its end, or to `ends`.
fn wait<F: Future>(wait: F, ends: Instant) -> wasmtime::Result<F::Output> {
    let mut wait = pin!(wait);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        NEXT_DUE.set(None);
        if let Poll::Ready(done) = wait.as_mut().poll(&mut context) {
            return Ok(done);
        }
        let now = Instant::now();
        if now >= ends {
            return Err(WaitedPastDeadline.into());
        }
        let due = NEXT_DUE.take().unwrap_or(now + POLL_STEP);
        std::thread::sleep(due.min(ends).saturating_duration_since(now));
    }
}

/// A monotonic-clock pollable: ready from `due` on.
struct ClockPollable {
    due: Instant,
}

#[async_trait::async_trait]
impl wasmtime_wasi_io::poll::Pollable for ClockPollable {
    async fn ready(&mut self) {
        let due = self.due;
        std::future::poll_fn(|_| {
            if Instant::now() >= due {
                return Poll::Ready(());
            }
            NEXT_DUE.set(Some(NEXT_DUE.get().map_or(due, |next| next.min(due))));
            Poll::Pending
        })
        .await
    }
}

impl PluginWaits<'_> {
    fn subscribe(&mut self, due: Instant) -> wasmtime::Result<Resource<DynPollable>> {
        let clock = self.table.push(ClockPollable { due })?;
        wasmtime_wasi_io::poll::subscribe(self.table, clock)
    }

    /// `nanos` after the clock's time 0, as an instant (the far future if it overflows).
    fn instant(&self, nanos: u64) -> Instant {
        let far = self.clock.base + Duration::from_secs(u32::MAX.into());
        self.clock.base.checked_add(Duration::from_nanos(nanos)).unwrap_or(far).min(far)
    }
}

impl monotonic_clock::Host for PluginWaits<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::try_from(self.clock.base.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.subscribe(self.instant(when))
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let now = u64::try_from(self.clock.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.subscribe(self.instant(now.saturating_add(duration)))
    }
}

impl poll::Host for PluginWaits<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let ends = self.clock.ends();
        wait(AsyncPoll::poll(self.table, pollables), ends)?
    }
}

impl poll::HostPollable for PluginWaits<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // One poll, which does not wait.
        futures_executor::block_on(AsyncPollable::ready(self.table, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let ends = self.clock.ends();
        wait(AsyncPollable::block(self.table, pollable), ends)?
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        AsyncPollable::drop(self.table, pollable)
    }
}
