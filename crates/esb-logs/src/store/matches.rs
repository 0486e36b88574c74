//! What a query keeps of the rows that match: the first ones in walk order, or with a
//! sort on a field other than `_time`, the first ones in that order ([`TopN`]).

use crate::logsql;
use crate::record::Record;

/// Collects matches arriving in walk order: oldest first, or newest first for a
/// descending time sort, where records of the same time still come oldest row first
/// (as a stable sort of the ascending order gives them). With a sort on another field,
/// keeps the first records in that order.
pub(super) struct Matches {
    pub(super) desc: bool,
    stop_after: Option<usize>,
    out: Vec<Record>,
    /// Descending: the matches at `group_time`, in walk order.
    group: Vec<Record>,
    group_time: Option<i64>,
    top: Option<TopN>,
}

impl Matches {
    pub(super) fn new(desc: bool, stop_after: Option<usize>, top: Option<TopN>) -> Self {
        Self {
            desc,
            stop_after,
            out: Vec::new(),
            group: Vec::new(),
            group_time: None,
            top,
        }
    }

    /// The walk reached a row at `time_ns`: false when enough records are collected.
    pub(super) fn advance(&mut self, time_ns: i64) -> bool {
        if self.desc && self.group_time != Some(time_ns) {
            self.flush();
            self.group_time = Some(time_ns);
        }
        self.stop_after.is_none_or(|n| self.out.len() < n)
    }

    pub(super) fn push(&mut self, r: Record) {
        if let Some(top) = &mut self.top {
            top.push(r);
        } else if self.desc {
            self.group.push(r);
        } else {
            self.out.push(r);
        }
    }

    fn flush(&mut self) {
        self.out.extend(self.group.drain(..).rev());
    }

    pub(super) fn finish(mut self) -> Vec<Record> {
        if let Some(top) = self.top.take() {
            return top.finish();
        }
        self.flush();
        if let Some(n) = self.stop_after {
            self.out.truncate(n);
        }
        self.out
    }
}

/// A record kept by [`TopN`]: the field's value, the arrival number, the record.
type Ranked = (Option<String>, usize, Record);

/// The first `limit` records by one field, as a stable sort of the records in the order
/// they arrive (oldest first) would give them, keeping at most twice `limit` at a time.
pub(super) struct TopN {
    field: String,
    desc: bool,
    limit: usize,
    items: Vec<Ranked>,
    arrived: usize,
}

impl TopN {
    pub(super) fn new(sort: &logsql::Sort, limit: usize) -> Self {
        Self {
            field: sort.field.clone(),
            desc: sort.desc,
            limit,
            items: Vec::new(),
            arrived: 0,
        }
    }

    fn order(desc: bool) -> impl Fn(&Ranked, &Ranked) -> std::cmp::Ordering {
        move |a, b| {
            let by_value = if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
            by_value.then(a.1.cmp(&b.1))
        }
    }

    pub(super) fn push(&mut self, r: Record) {
        let key = r.field(&self.field).map(std::borrow::Cow::into_owned);
        self.items.push((key, self.arrived, r));
        self.arrived += 1;
        if self.items.len() >= self.limit.saturating_mul(2).max(1024) {
            self.items
                .select_nth_unstable_by(self.limit, Self::order(self.desc));
            self.items.truncate(self.limit);
        }
    }

    pub(super) fn finish(mut self) -> Vec<Record> {
        self.items.sort_by(Self::order(self.desc));
        self.items.truncate(self.limit);
        self.items.into_iter().map(|(_, _, r)| r).collect()
    }
}
