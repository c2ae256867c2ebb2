//! Host bindings of the `summarizer` world, generated from the same WIT directory the SDK
//! uses (`plugin-sdk/wit`, where `summarizer.wit` sits beside `vigil.wit`). The shared
//! `types` interface is taken from the detector's bindings, so one encoded batch serves both.

wasmtime::component::bindgen!({
    world: "summarizer",
    path: "../plugin-sdk/wit",
    // Batches are lent to the guest borrowed: no copy on the host side.
    ownership: Borrowing { duplicate_if_necessary: true },
    with: { "vigil:plugin/types": crate::detect::bindings::vigil::plugin::types },
});
