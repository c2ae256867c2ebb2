//! The hashes behind every per-key table: the SDK's `hash_bytes` over an event's raw bytes
//! (FxHash's word-at-a-time mixing finished with MurmurHash3's fmix64; pinned there, since
//! snapshots keep the slots it chooses), and [`combine`] for keys made of two keys.
//!
//! Not collision-resistant against a chosen-key attacker; the tables these feed are sized to
//! tolerate collisions (see `ip_window` and `rarity`).

const FX_MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

pub use vigil_plugin_sdk::features::hash_bytes;

/// A key made of two keys (a path and a parameter name, say), as well mixed as either.
pub fn combine(a: u64, b: u64) -> u64 {
    fmix64(a ^ b.wrapping_mul(FX_MULTIPLIER).rotate_left(29))
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_keys_are_pinned_and_ordered() {
        // Snapshots store slots chosen by these: a change here must bump the format.
        assert_eq!(combine(1, 2), 0xf214_0262_3bdc_338c, "got {:#x}", combine(1, 2));
        assert_ne!(combine(1, 2), combine(2, 1));
    }
}
