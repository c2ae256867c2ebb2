//! The process's memory: glibc allocator settings, and giving freed memory back once the
//! agent is idle. Hand-written over `libc` because no crate wraps `mallopt`/`malloc_trim`
//! (allocator crates replace glibc's malloc instead; mimalloc was measured and was worse,
//! see docs/benchmarks.md). Both are no-ops off glibc.

/// At most two glibc malloc arenas (its default is eight per core). Every thread that
/// allocates gets an arena of its own, and memory freed in one arena is never reused by
/// another: with the tokio workers, the blocking pool, the tailer and the summarizer each
/// holding some, a file-ingest run ended with ~85 MiB spread over ten arenas. Measured with
/// `--bench ws_ingest`: peak RSS 89 -> 72 MiB, throughput unchanged. Call it first thing in
/// `main`: threads that allocated before keep the arenas they have.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a glibc allocator setting, under glibc's own lock; it has
    // no preconditions (M_ARENA_MAX applies to threads that have not allocated yet).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Give freed heap back to the OS. glibc keeps freed memory in its arenas: compiling the
/// plugins with Cranelift on a first start allocates tens of MiB and frees them again, and
/// without this a freshly installed agent idled at ~52 MiB resident instead of ~44; after a
/// burst of ingest the batches' memory stays likewise (docs/benchmarks.md, memory).
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only hands glibc's unused heap pages back to the kernel; it has no
    // preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
