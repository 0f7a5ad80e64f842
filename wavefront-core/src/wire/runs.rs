//! What an encoder remembers for one batch of spans: texts found by their
//! address, and runs of consecutive tags encoded once. The spans of one
//! route share their tags' texts, so a run is encoded at its first span and
//! copied for the others.
//!
//! An address identifies a text only while it lives unchanged: what is
//! remembered here must serve one batch of spans that all stay alive and
//! unchanged meanwhile.

/// A tag's key and value, by address and length.
pub(crate) type TextIds = (usize, usize, usize, usize);

/// The ids of `key` and `value`.
pub(crate) fn ids(key: &str, value: &str) -> TextIds {
    (
        key.as_ptr() as usize,
        key.len(),
        value.as_ptr() as usize,
        value.len(),
    )
}

/// Runs kept for each place in a span: a batch mixes a few routes.
const RUNS_PER_PLACE: usize = 4;

/// Values made from runs of consecutive tags (their encoding), by where the
/// run starts in a span: the last few there, with the texts they were made
/// of.
pub(crate) struct Runs<V> {
    places: Vec<Vec<(Vec<TextIds>, V)>>,
}

impl<V> Default for Runs<V> {
    fn default() -> Self {
        Runs { places: Vec::new() }
    }
}

impl<V> Runs<V> {
    /// Where the run of `len` tags at `at` whose ids `id` gives (by index)
    /// is kept, if it is.
    pub(crate) fn find(
        &self,
        at: usize,
        len: usize,
        id: impl Fn(usize) -> TextIds,
    ) -> Option<usize> {
        self.places.get(at)?.iter().position(|(known, _)| {
            known.len() == len && known.iter().enumerate().all(|(i, k)| *k == id(i))
        })
    }

    /// Keeps `value`, made from the run with `ids` at `at`, in place of the
    /// oldest there; returns where (for [`get`](Self::get)).
    pub(crate) fn insert(&mut self, at: usize, ids: Vec<TextIds>, value: V) -> usize {
        if self.places.len() <= at {
            self.places.resize_with(at + 1, Vec::new);
        }
        let place = &mut self.places[at];
        if place.len() == RUNS_PER_PLACE {
            place.remove(0);
        }
        place.push((ids, value));
        place.len() - 1
    }

    /// The value kept at `at`, `index` (as [`find`](Self::find) or
    /// [`insert`](Self::insert) gave).
    pub(crate) fn get(&self, at: usize, index: usize) -> &V {
        &self.places[at][index].1
    }
}
