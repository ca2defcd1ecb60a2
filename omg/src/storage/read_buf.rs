//! A reusable buffer of encoded records: one allocation for many reads.

use crate::Timestamp;

/// The retained range of a topic when a read happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadInfo {
    /// The oldest retained offset; a reader before it lost `first_offset - from` messages.
    pub first_offset: u64,
    /// The head: the offset the next append will get.
    pub next_offset: u64,
}

/// Encoded records read from a storage, stored contiguously and reused
/// across reads so that steady-state reading allocates nothing.
#[derive(Debug, Default)]
pub struct ReadBuf {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    offset: u64,
    timestamp: Timestamp,
    start: usize,
    end: usize,
}

/// One record in a [`ReadBuf`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRecord<'a> {
    /// Its offset.
    pub offset: u64,
    /// When it was published.
    pub timestamp: Timestamp,
    /// The encoded message.
    pub payload: &'a [u8],
}

impl ReadBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the buffer, keeping its capacity.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes.clear();
    }

    /// Adds a record. Storages push records in offset order with no gaps.
    pub fn push(&mut self, offset: u64, timestamp: Timestamp, payload: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(payload);
        self.entries.push(Entry {
            offset,
            timestamp,
            start,
            end: self.bytes.len(),
        });
    }

    /// Adds consecutive records from `first_offset` whose payloads lie back
    /// to back in `bytes`: record `i` ends at `ends[i]` and the first starts
    /// at `start`. Copies the payloads in one piece.
    pub(crate) fn push_run(
        &mut self,
        first_offset: u64,
        timestamps: &[Timestamp],
        ends: &[usize],
        bytes: &[u8],
        start: usize,
    ) {
        let Some(&last_end) = ends.last() else {
            return;
        };
        let shift = self.bytes.len();
        self.bytes.extend_from_slice(&bytes[start..last_end]);
        let mut record_start = start;
        let records = timestamps.iter().zip(ends).zip(first_offset..);
        self.entries
            .extend(records.map(|((&timestamp, &end), offset)| {
                let entry = Entry {
                    offset,
                    timestamp,
                    start: shift + record_start - start,
                    end: shift + end - start,
                };
                record_start = end;
                entry
            }));
    }

    /// How many records it holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The payload bytes it holds.
    #[inline]
    pub fn payload_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it holds no record.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `index`-th record. Inlined: a cursor takes every durable record
    /// through it, and a record returned through a call is read back with
    /// a store-forwarding stall.
    #[inline]
    pub fn get(&self, index: usize) -> Option<StoredRecord<'_>> {
        let entry = self.entries.get(index)?;
        Some(StoredRecord {
            offset: entry.offset,
            timestamp: entry.timestamp,
            payload: &self.bytes[entry.start..entry.end],
        })
    }

    /// The records in order.
    pub fn iter(&self) -> impl Iterator<Item = StoredRecord<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}
