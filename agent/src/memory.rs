//! The process's memory: the allocators' settings, and giving freed memory back once the
//! agent is idle.
//!
//! The `vigil` binary allocates Rust's heap with jemalloc (its `#[global_allocator]`): an
//! event is allocated by the thread that reads it and freed by the threads that commit and
//! summarize it, and glibc's malloc spent ~11% of the file pipeline's CPU on that (arena
//! locks, consolidation). With jemalloc the 3 M-line pipeline went from 170-200k to 195-222k
//! lines/s (docs/benchmarks.md, ingest). mimalloc was tried earlier and held far more memory.
//! SQLite still allocates with glibc's malloc, so its settings and `malloc_trim` stay;
//! hand-written over `libc` because no crate wraps `mallopt`/`malloc_trim`. They are no-ops
//! off glibc.

/// At most two glibc malloc arenas (its default is eight per core). Every thread that
/// allocates gets an arena of its own, and memory freed in one arena is never reused by
/// another: when glibc still held the Rust heap too, a file-ingest run ended with ~85 MiB
/// spread over ten arenas (`--bench ws_ingest`: peak RSS 89 -> 72 MiB with this). What it
/// holds now is SQLite's, from the writer, the readers and the checkpoint thread. Call it
/// first thing in `main`: threads that allocated before keep the arenas they have.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc allocator setting, under glibc's own lock; it has
    // no preconditions (M_ARENA_MAX applies to threads that have not allocated yet).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Give freed heap back to the OS: jemalloc's dirty pages (it returns them by itself only
/// over ~10 s of further allocation, and an idle agent allocates nothing) and glibc's free
/// memory (SQLite's caches, once `shrink_memory` freed them). A burst of ingest leaves the
/// batches' memory behind otherwise (docs/benchmarks.md, memory).
pub fn release_free_heap() {
    #[cfg(not(target_env = "msvc"))]
    // SAFETY: `arena.<MALLCTL_ARENAS_ALL>.purge` (4096 is jemalloc's "all arenas") takes no
    // argument and returns nothing, so every pointer is null and the length 0; the name is a
    // NUL-terminated C string. It only hands unused dirty pages back to the kernel, and is
    // safe from any thread at any time. Where jemalloc is not the global allocator (the
    // library's tests), its arenas are empty and this does nothing.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only hands glibc's unused heap pages back to the kernel; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
