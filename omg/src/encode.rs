//! Encoding a message into its stored bytes.

use std::cell::RefCell;

use serde::Serialize;

/// Scratch buffers that grew past this are freed after use, not kept.
const KEEP_SCRATCH: usize = 64 * 1024;

thread_local! {
    /// Where this thread encodes. Postcard grows its output as it goes:
    /// encoding straight into a new `Vec` reallocates it twice for a
    /// message of a hundred bytes (in omg-sqlite's pipelined benchmark the
    /// encode fell from 12% to 9% of the profile with this buffer).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `message` postcard-encoded into a `Vec` of exactly its size: encoded in
/// this thread's scratch buffer, then copied out in one allocation.
pub(crate) fn to_vec<T: Serialize>(message: &T) -> postcard::Result<Vec<u8>> {
    // Taken out of the cell, not borrowed: a `Serialize` impl that itself
    // publishes finds an empty cell and encodes into a buffer of its own.
    let mut scratch = SCRATCH.try_with(RefCell::take).unwrap_or_default();
    scratch.clear();
    let scratch = postcard::to_extend(message, scratch)?;
    let payload = scratch.as_slice().to_vec();
    if scratch.capacity() <= KEEP_SCRATCH {
        let _thread_exiting = SCRATCH.try_with(|cell| cell.replace(scratch));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test helpers: a failed unwrap is a failed test"
    )]

    use super::*;

    #[test]
    fn encodes_as_postcard_does_in_a_buffer_of_exactly_that_size() {
        let messages = [vec![7u8; 100], vec![], vec![1u8; 70_000], vec![2u8; 3]];
        for message in &messages {
            let payload = to_vec(message).unwrap();
            assert_eq!(payload, postcard::to_allocvec(message).unwrap());
            assert_eq!(payload.capacity(), payload.len());
        }
    }
}
