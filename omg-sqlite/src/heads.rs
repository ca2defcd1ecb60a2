//! The writer's per-transaction cache of topics' heads.

use std::collections::HashMap;

use omg::Name;

/// A topic's row, cached for one transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    pub(crate) id: i64,
    pub(crate) next: u64,
    pub(crate) last_ts: i64,
    /// Listed in the transaction's `touched` topics already.
    pub(crate) touched: bool,
}

/// Topics' rows by name (`None`: no such topic). foldhash, not SipHash
/// (which was 5% of the writer's time): the names come from declared
/// topics, not from the network.
pub(crate) type HeadMap = HashMap<Name, Option<Head>, foldhash::fast::RandomState>;

/// The heads a transaction has read or moved.
///
/// The topic that plain appends last went to is kept apart, live, with
/// its name: the next append to it compares names by pointer and hashes
/// nothing. Hashing a name reads its bytes, which share a cache line with
/// the name's reference count — and the publishing thread changes that
/// count with every message, so each hash was a cache miss (8% of the
/// writer's profile). Its entry in the map is stale until [`settled`]
/// writes it back: everything but the append path goes through that.
///
/// [`settled`]: Heads::settled
#[derive(Default)]
pub(crate) struct Heads {
    map: HeadMap,
    hot: Option<(Name, Head)>,
}

impl Heads {
    /// Every head, the hot one written back.
    pub(crate) fn settled(&mut self) -> &mut HeadMap {
        if let Some((name, head)) = self.hot.take() {
            self.map.insert(name, Some(head));
        }
        &mut self.map
    }

    /// The live head of `topic` if plain appends last went to it.
    pub(crate) fn hot(&mut self, topic: &Name) -> Option<&mut Head> {
        match &mut self.hot {
            Some((name, head)) if name == topic => Some(head),
            _ => None,
        }
    }

    /// Makes `head` (of `topic`) the hot one, settling the previous one.
    pub(crate) fn heat(&mut self, topic: &Name, head: Head) -> &mut Head {
        self.settled();
        &mut self.hot.insert((topic.clone(), head)).1
    }

    /// Forgets everything (the transaction rolled back).
    pub(crate) fn clear(&mut self) {
        self.hot = None;
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(next: u64) -> Head {
        Head {
            id: 1,
            next,
            last_ts: 0,
            touched: false,
        }
    }

    #[test]
    fn the_hot_head_is_written_back_when_settled() {
        let topic = Name::new("t").unwrap_or_else(|e| panic!("{e}"));
        let mut heads = Heads::default();
        heads.settled().insert(topic.clone(), Some(head(3)));
        heads.heat(&topic, head(3)).next += 1;
        if let Some(hot) = heads.hot(&topic) {
            hot.next += 1;
        }
        assert_eq!(
            heads.settled().get(&topic).and_then(|h| h.map(|h| h.next)),
            Some(5)
        );
        assert!(heads.hot(&topic).is_none(), "settling ends the hot head");
        let other = Name::new("u").unwrap_or_else(|e| panic!("{e}"));
        heads.heat(&topic, head(5)).next += 1;
        heads.heat(&other, head(0));
        assert_eq!(
            heads.settled().get(&topic).and_then(|h| h.map(|h| h.next)),
            Some(6)
        );
    }
}
