//! Merged histogram centroids, for percentiles across minutes and sources.

/// Centroids kept before neighbours are merged: enough for exact
/// percentiles of a few hundred requests, bounded for millions.
const MAX_CENTROIDS: usize = 256;

/// `(mean, count)` pairs, sorted by mean when read.
#[derive(Debug, Default, Clone)]
pub(super) struct Centroids {
    points: Vec<(f64, u64)>,
}

impl Centroids {
    /// Adds `count` samples around `mean` (non-finite means and empty
    /// counts are ignored).
    pub(super) fn add(&mut self, mean: f64, count: u64) {
        if count == 0 || !mean.is_finite() {
            return;
        }
        self.points.push((mean, count));
        if self.points.len() > 2 * MAX_CENTROIDS {
            self.compress();
        }
    }

    pub(super) fn merge(&mut self, other: &Centroids) {
        for &(mean, count) in &other.points {
            self.add(mean, count);
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.points.iter().map(|&(_, c)| c).sum()
    }

    /// The nearest-rank `q` quantile (0 < q ≤ 1): the mean of the centroid
    /// holding the `ceil(q·n)`-th sample. `None` when empty.
    pub(super) fn quantile(&self, q: f64) -> Option<f64> {
        let mut sorted = self.points.clone();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = self.count();
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total.max(1));
        let mut seen = 0;
        for (mean, count) in sorted {
            seen += count;
            if seen >= rank {
                return Some(mean);
            }
        }
        None
    }

    /// Merges neighbours pairwise (weighted means) down to about
    /// [`MAX_CENTROIDS`].
    fn compress(&mut self) {
        self.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.points = self
            .points
            .chunks(2)
            .map(|pair| {
                let count: u64 = pair.iter().map(|&(_, c)| c).sum();
                let sum: f64 = pair.iter().map(|&(m, c)| m * c as f64).sum();
                (sum / count as f64, count)
            })
            .collect();
    }
}
