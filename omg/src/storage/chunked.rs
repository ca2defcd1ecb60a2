//! The in-memory storage's records of one topic, in chunks.
//!
//! A record per allocation would cost a `malloc`, a `free` and ~64 bytes of
//! fresh pages per message; a chunk holds [`CHUNK`] records' timestamps and
//! payload ends in two arrays and their payloads back to back, so a message
//! costs its bytes plus 16. Trimming drops whole chunks once every record
//! in them expired.

use std::collections::VecDeque;

use super::ReadBuf;
use crate::Timestamp;

/// Records per chunk.
const CHUNK: usize = 4096;

/// A log's retained records, in offset order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunked {
    /// Offset of the oldest retained record (`next` when none is).
    first: u64,
    /// Offset the next record gets.
    next: u64,
    /// Timestamp of the last record pushed, kept when trimming removes it:
    /// the log raises a new record's timestamp to it.
    last_timestamp: Option<Timestamp>,
    chunks: VecDeque<Chunk>,
}

#[derive(Debug, Clone)]
struct Chunk {
    /// Offset of `timestamps[0]`; records before [`Chunked::first`] are trimmed.
    base: u64,
    timestamps: Vec<Timestamp>,
    /// End of each record's payload in `bytes`.
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Chunk {
    fn new(base: u64) -> Self {
        Self {
            base,
            timestamps: Vec::with_capacity(CHUNK),
            ends: Vec::with_capacity(CHUNK),
            bytes: Vec::new(),
        }
    }

    fn end(&self) -> u64 {
        self.base + self.timestamps.len() as u64
    }

    #[cfg(test)]
    fn payload(&self, index: usize) -> &[u8] {
        let start = index.checked_sub(1).map_or(0, |i| self.ends[i]);
        &self.bytes[start..self.ends[index]]
    }
}

impl Chunked {
    pub(crate) fn first(&self) -> u64 {
        self.first
    }

    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// The timestamp of the last record pushed, retained or not; `None`
    /// before the first.
    pub(crate) fn last_timestamp(&self) -> Option<Timestamp> {
        self.last_timestamp
    }

    pub(crate) fn push(&mut self, timestamp: Timestamp, payload: &[u8]) {
        let chunk = match self.chunks.back_mut() {
            Some(chunk) if chunk.timestamps.len() < CHUNK => chunk,
            _ => {
                self.chunks.push_back(Chunk::new(self.next));
                let Some(chunk) = self.chunks.back_mut() else {
                    unreachable!("a chunk was just pushed");
                };
                chunk
            }
        };
        chunk.bytes.extend_from_slice(payload);
        chunk.timestamps.push(timestamp);
        chunk.ends.push(chunk.bytes.len());
        self.next += 1;
        self.last_timestamp = Some(timestamp);
    }

    /// Appends up to `max` records from `from` (at least
    /// [`first`](Self::first)) to `out`, copying each chunk's payloads in
    /// one piece.
    pub(crate) fn read_into(&self, from: u64, mut max: usize, out: &mut ReadBuf) {
        let from = from.max(self.first);
        let start = self.chunks.partition_point(|c| c.end() <= from);
        for chunk in self.chunks.range(start..) {
            if max == 0 {
                break;
            }
            let skip = usize::try_from(from.saturating_sub(chunk.base)).unwrap_or(usize::MAX);
            let take = chunk.timestamps.len().saturating_sub(skip).min(max);
            let records = skip..skip + take;
            let bytes_start = skip.checked_sub(1).map_or(0, |i| chunk.ends[i]);
            out.push_run(
                chunk.base + skip as u64,
                &chunk.timestamps[records.clone()],
                &chunk.ends[records],
                &chunk.bytes,
                bytes_start,
            );
            max -= take;
        }
    }

    /// Up to `max` records from `from` (at least [`first`](Self::first)), in order.
    #[cfg(test)]
    pub(crate) fn iter_from(
        &self,
        from: u64,
        max: usize,
    ) -> impl Iterator<Item = (u64, Timestamp, &[u8])> + '_ {
        let from = from.max(self.first);
        let start = self.chunks.partition_point(|c| c.end() <= from);
        self.chunks
            .range(start..)
            .flat_map(move |chunk| {
                let skip = usize::try_from(from.saturating_sub(chunk.base)).unwrap_or(usize::MAX);
                (skip..chunk.timestamps.len())
                    .map(move |i| (chunk.base + i as u64, chunk.timestamps[i], chunk.payload(i)))
            })
            .take(max)
    }

    /// The first retained offset whose timestamp is at least `time`
    /// (timestamps never decrease), or [`next`](Self::next).
    pub(crate) fn offset_at(&self, time: Timestamp) -> u64 {
        let index = self
            .chunks
            .partition_point(|c| c.timestamps.last().is_some_and(|t| *t < time));
        let Some(chunk) = self.chunks.get(index) else {
            return self.next;
        };
        let at = chunk.base + chunk.timestamps.partition_point(|t| *t < time) as u64;
        at.max(self.first)
    }

    /// Drops records older than `cutoff` from the front; returns how many.
    pub(crate) fn trim_before(&mut self, cutoff: Timestamp) -> u64 {
        let before = self.first;
        while let Some(chunk) = self.chunks.front() {
            if chunk.timestamps.last().is_some_and(|t| *t < cutoff) {
                self.first = chunk.end();
                self.chunks.pop_front();
                continue;
            }
            let expired = chunk.base + chunk.timestamps.partition_point(|t| *t < cutoff) as u64;
            self.first = self.first.max(expired);
            break;
        }
        self.first - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: u64) -> Chunked {
        let mut log = Chunked::default();
        for i in 0..n {
            log.push(
                Timestamp::from_micros(i as i64),
                &i.to_le_bytes()[..(i % 9) as usize],
            );
        }
        log
    }

    #[test]
    fn reads_back_every_record_across_chunks() {
        let n = 3 * CHUNK as u64 + 17;
        let log = filled(n);
        assert_eq!((log.first(), log.next()), (0, n));
        let all: Vec<_> = log.iter_from(0, usize::MAX).collect();
        assert_eq!(all.len() as u64, n);
        for (i, (offset, ts, payload)) in all.into_iter().enumerate() {
            let i = i as u64;
            assert_eq!(offset, i);
            assert_eq!(ts, Timestamp::from_micros(i as i64));
            assert_eq!(payload, &i.to_le_bytes()[..(i % 9) as usize]);
        }
        let window: Vec<u64> = log.iter_from(CHUNK as u64 - 2, 4).map(|r| r.0).collect();
        assert_eq!(
            window,
            (CHUNK as u64 - 2..CHUNK as u64 + 2).collect::<Vec<_>>()
        );
        assert_eq!(log.iter_from(n, 10).count(), 0);
    }

    #[test]
    fn reads_into_a_buffer_what_it_iterates() {
        let n = 2 * CHUNK as u64 + 9;
        let mut log = filled(n);
        log.trim_before(Timestamp::from_micros(3));
        let mut out = ReadBuf::new();
        for (from, max) in [
            (0, 5),
            (0, usize::MAX),
            (CHUNK as u64 - 2, 7),
            (n - 1, 9),
            (n, 1),
        ] {
            out.clear();
            log.read_into(from, max, &mut out);
            let read: Vec<_> = out
                .iter()
                .map(|r| (r.offset, r.timestamp, r.payload.to_vec()))
                .collect();
            let iterated: Vec<_> = log
                .iter_from(from, max)
                .map(|(o, t, p)| (o, t, p.to_vec()))
                .collect();
            assert_eq!(read, iterated, "from {from}, max {max}");
        }
        out.clear();
        log.read_into(0, 2, &mut out);
        log.read_into(5, 1, &mut out);
        let offsets: Vec<u64> = out.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [3, 4, 5], "a second run appends after the first");
        assert_eq!(
            out.get(2).map(|r| r.payload),
            Some(&5u64.to_le_bytes()[..5])
        );
    }

    #[test]
    fn trims_inside_and_across_chunks() {
        let n = 2 * CHUNK as u64 + 5;
        let mut log = filled(n);
        assert_eq!(log.trim_before(Timestamp::from_micros(10)), 10);
        assert_eq!(log.first(), 10);
        assert_eq!(log.iter_from(0, 1).next().map(|r| r.0), Some(10));
        let cut = CHUNK as u64 + 3;
        assert_eq!(
            log.trim_before(Timestamp::from_micros(cut as i64)),
            cut - 10
        );
        assert_eq!(log.chunks.len(), 2);
        assert_eq!(log.iter_from(0, 1).next().map(|r| r.0), Some(cut));
        assert_eq!(log.trim_before(Timestamp::from_micros(i64::MAX)), n - cut);
        assert_eq!((log.first(), log.next()), (n, n));
        assert_eq!(
            log.last_timestamp(),
            Some(Timestamp::from_micros(n as i64 - 1)),
            "the last timestamp outlives its record"
        );
        log.push(Timestamp::from_micros(i64::MAX), b"x");
        let rest: Vec<_> = log.iter_from(0, 10).map(|r| (r.0, r.2.to_vec())).collect();
        assert_eq!(rest, vec![(n, b"x".to_vec())]);
    }

    #[test]
    fn finds_offsets_by_time() {
        let mut log = filled(CHUNK as u64 + 10);
        assert_eq!(log.offset_at(Timestamp::from_micros(0)), 0);
        assert_eq!(
            log.offset_at(Timestamp::from_micros(CHUNK as i64 + 1)),
            CHUNK as u64 + 1
        );
        assert_eq!(log.offset_at(Timestamp::from_micros(i64::MAX)), log.next());
        log.trim_before(Timestamp::from_micros(5));
        assert_eq!(log.offset_at(Timestamp::from_micros(0)), 5);
    }
}
