//! Host bindings generated from the same WIT file the SDK uses (`plugin-sdk/wit/vigil.wit`).

wasmtime::component::bindgen!({
    world: "detector",
    path: "../plugin-sdk/wit",
    // Batches are lent to the guest borrowed: no copy on the host side.
    ownership: Borrowing { duplicate_if_necessary: true },
});
