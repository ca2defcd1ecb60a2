//! Encoding a message into its stored bytes.

use std::cell::RefCell;

use serde::Serialize;

/// Messages up to this many bytes are encoded in a buffer on the stack.
const SMALL: usize = 128;

/// Scratch buffers that grew past this are freed after use, not kept.
const KEEP_SCRATCH: usize = 64 * 1024;

thread_local! {
    /// Where this thread encodes. Postcard grows its output as it goes:
    /// encoding straight into a new `Vec` reallocates it twice for a
    /// message of a hundred bytes (in omg-sqlite's pipelined benchmark the
    /// encode fell from 12% to 9% of the profile with this buffer).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `message` postcard-encoded, handed to `use_payload`: a publish that
/// stores the bytes where they go (an [`InlineLog`](crate::storage::InlineLog))
/// allocates nothing, one that needs them owned copies them out in one
/// allocation of exactly their size. A failed encoding is reported through
/// `failed`, so that the caller's result is one flat `Result` (a nested one
/// is read back through misaligned loads on the publish path).
#[inline]
pub(crate) fn with_encoded<T: Serialize, R, E>(
    message: &T,
    use_payload: impl FnOnce(&[u8]) -> Result<R, E>,
    failed: impl FnOnce(postcard::Error) -> E,
) -> Result<R, E> {
    // Most messages are small: encoded on the stack, they touch neither the
    // thread-local nor a growing `Vec` (a third of an in-memory publish).
    // Any failure there is tried again below: a full buffer is not always
    // reported as `SerializeBufferFull` (inside `collect_str` it is
    // `CollectStrError`), and a real failure fails again, reported there.
    let mut small = [0u8; SMALL];
    if let Ok(payload) = postcard::to_slice(message, &mut small) {
        return use_payload(payload);
    }
    // Taken out of the cell, not borrowed: a `Serialize` impl (or a
    // `use_payload`) that itself publishes finds an empty cell and encodes
    // into a buffer of its own.
    let mut scratch = SCRATCH.try_with(RefCell::take).unwrap_or_default();
    scratch.clear();
    let scratch = postcard::to_extend(message, scratch).map_err(failed)?;
    let result = use_payload(&scratch);
    if scratch.capacity() <= KEEP_SCRATCH {
        let _thread_exiting = SCRATCH.try_with(|cell| cell.replace(scratch));
    }
    result
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
        // On the stack, exactly filling it (a length byte and 127), just
        // over, and far over.
        let messages = [
            vec![7u8; 100],
            vec![],
            vec![1u8; 70_000],
            vec![2u8; 3],
            vec![3u8; SMALL - 1],
            vec![4u8; SMALL],
        ];
        for message in &messages {
            let payload = with_encoded(message, |p| Ok(p.to_vec()), |e| e).unwrap();
            assert_eq!(payload, postcard::to_allocvec(message).unwrap());
            assert_eq!(payload.capacity(), payload.len());
        }
    }

    /// A message whose `Serialize` fails.
    struct Refused;

    impl Serialize for Refused {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }

    /// A string written through `collect_str`, as `Display`-based
    /// serializers (`serde_with::DisplayFromStr`, chrono) write it.
    struct Shown(String);

    impl Serialize for Shown {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }

    #[test]
    fn a_collect_str_message_beyond_the_stack_buffer_encodes() {
        for len in [SMALL - 2, SMALL, 3 * SMALL] {
            let message = Shown("x".repeat(len));
            let payload = with_encoded(&message, |p| Ok(p.to_vec()), |e| e).unwrap();
            assert_eq!(payload, postcard::to_allocvec(&"x".repeat(len)).unwrap());
        }
    }

    #[test]
    fn a_failing_serialize_is_an_error_and_the_payload_is_never_used() {
        let result: Result<(), _> =
            with_encoded(&Refused, |_| unreachable!("nothing was encoded"), |e| e);
        assert_eq!(result, Err(postcard::Error::SerdeSerCustom));
    }
}
