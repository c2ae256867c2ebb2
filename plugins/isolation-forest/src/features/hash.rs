//! The one hash behind every per-key table: FxHash's word-at-a-time mixing over the raw
//! bytes, finished with MurmurHash3's fmix64.
//!
//! Hand-written, not `std`'s SipHash nor a crate: it runs two or three times per event over
//! short strings, where SipHash costs several times more; and its output decides which slot a
//! key lands in, which is saved in snapshots, so it must never change with a toolchain or a
//! dependency version. It is not collision-resistant against a chosen-key attacker; the
//! tables it feeds are sized to tolerate collisions (see `ip_window` and `rarity`).

const FX_MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

/// A 64-bit hash of `bytes` whose every output bit depends on every input bit.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("chunks_exact yields 8 bytes"));
        h = (h.rotate_left(5) ^ word).wrapping_mul(FX_MULTIPLIER);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(FX_MULTIPLIER);
    }
    // Fx alone leaves the low bits weak, and tables index by low bits: finish with a full mix.
    fmix64(h)
}

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
    fn output_is_pinned() {
        // Snapshots store slots chosen by this hash: a change here must bump the format.
        assert_eq!(hash_bytes(b"203.0.113.9"), hash_bytes(b"203.0.113.9"));
        assert_eq!(hash_bytes(b""), fmix64(0));
        assert_eq!(hash_bytes(b"GET"), 0xbe05_8393_560e_1f9d, "got {:#x}", hash_bytes(b"GET"));
    }

    #[test]
    fn length_and_tail_bytes_matter() {
        assert_ne!(hash_bytes(b"a"), hash_bytes(b"a\0"));
        assert_ne!(hash_bytes(b"12345678x"), hash_bytes(b"12345678y"));
    }

    #[test]
    fn low_bits_spread_over_a_table() {
        let mut slots = [0u32; 256];
        for i in 0..25_600u32 {
            slots[(hash_bytes(format!("10.0.{}.{}", i / 256, i % 256).as_bytes()) & 255) as usize] += 1;
        }
        // 100 expected per slot; a weak hash on sequential IPs piles them into few slots.
        assert!(slots.iter().all(|&n| (50..=160).contains(&n)), "{slots:?}");
    }
}
