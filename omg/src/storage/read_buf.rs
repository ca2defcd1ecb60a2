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

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The payload bytes it holds.
    pub fn payload_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `index`-th record.
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
