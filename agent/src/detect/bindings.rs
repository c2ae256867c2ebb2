//! Host bindings generated from the same WIT file the SDK uses (`plugin-sdk/wit/vigil.wit`).

wasmtime::component::bindgen!({
    world: "detector",
    path: "../plugin-sdk/wit",
    // Events are lent to the guest as borrowed strings: no copy on the host side.
    ownership: Borrowing { duplicate_if_necessary: true },
});


impl crate::event::Event {
    /// Lend this event to a plugin call.
    pub(super) fn as_wit(&self) -> Event<'_> {
        Event {
            timestamp_ms: self.timestamp_ms,
            ip: &self.ip,
            method: &self.method,
            url: &self.url,
            status_code: self.status_code,
            bytes_sent: self.bytes_sent,
            user_agent: &self.user_agent,
            raw: &self.raw,
        }
    }
}
