//! Selection thresholds: defaults from design.md, overridable by the traffic file's
//! `[thresholds]` table and then by command-line flags.

use serde::{Deserialize, Serialize};

/// The limits that decide which edges are merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// Merge an edge only when its affinity (its qps / all qps into the callee) is above this.
    pub min_affinity: f64,
    /// Merge an edge only when its encoding cost is above this.
    pub min_encoding_cost: f64,
    /// Reject members whose mean container CPU utilisation is above this.
    pub max_cpu_util: f64,
    /// Reject members using more than this share of their memory limit.
    pub max_mem_ratio: f64,
    /// Most services in one group.
    pub max_group_size: usize,
    /// Most memory (GiB, summed `mem_used_gib`) in one group; `None` is unlimited.
    pub max_group_mem_gib: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_affinity: 0.90,
            min_encoding_cost: 0.03,
            max_cpu_util: 0.80,
            max_mem_ratio: 0.85,
            max_group_size: 8,
            max_group_mem_gib: None,
        }
    }
}

/// Thresholds given by a file or flags; unset ones keep the value below them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdOverrides {
    pub min_affinity: Option<f64>,
    pub min_encoding_cost: Option<f64>,
    pub max_cpu_util: Option<f64>,
    pub max_mem_ratio: Option<f64>,
    pub max_group_size: Option<usize>,
    pub max_group_mem_gib: Option<f64>,
}

impl ThresholdOverrides {
    /// `later`'s values over these.
    pub fn apply_over(&mut self, later: &ThresholdOverrides) {
        let ThresholdOverrides {
            min_affinity,
            min_encoding_cost,
            max_cpu_util,
            max_mem_ratio,
            max_group_size,
            max_group_mem_gib,
        } = *later;
        self.min_affinity = min_affinity.or(self.min_affinity);
        self.min_encoding_cost = min_encoding_cost.or(self.min_encoding_cost);
        self.max_cpu_util = max_cpu_util.or(self.max_cpu_util);
        self.max_mem_ratio = max_mem_ratio.or(self.max_mem_ratio);
        self.max_group_size = max_group_size.or(self.max_group_size);
        self.max_group_mem_gib = max_group_mem_gib.or(self.max_group_mem_gib);
    }

    /// Checks every value against its range; the messages name the setting.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |name: &str, v: Option<f64>, f: fn(f64) -> Result<f64, RangeError>| {
            if let Some(v) = v {
                if let Err(e) = f(v) {
                    out.push(format!("`{name}`: {e}"));
                }
            }
        };
        check("min_affinity", self.min_affinity, check_share);
        check("min_encoding_cost", self.min_encoding_cost, check_share);
        check("max_cpu_util", self.max_cpu_util, check_share);
        check("max_mem_ratio", self.max_mem_ratio, check_share);
        check("max_group_mem_gib", self.max_group_mem_gib, check_positive);
        if let Some(n) = self.max_group_size {
            if let Err(e) = check_group_size(n) {
                out.push(format!("`max_group_size`: {e}"));
            }
        }
        out
    }
}

impl Thresholds {
    /// Applies the set values of `o` on top of `self`.
    pub fn apply(&mut self, o: &ThresholdOverrides) {
        if let Some(v) = o.min_affinity {
            self.min_affinity = v;
        }
        if let Some(v) = o.min_encoding_cost {
            self.min_encoding_cost = v;
        }
        if let Some(v) = o.max_cpu_util {
            self.max_cpu_util = v;
        }
        if let Some(v) = o.max_mem_ratio {
            self.max_mem_ratio = v;
        }
        if let Some(v) = o.max_group_size {
            self.max_group_size = v;
        }
        if o.max_group_mem_gib.is_some() {
            self.max_group_mem_gib = o.max_group_mem_gib;
        }
    }
}

/// A threshold value outside its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    #[error("{0} is outside the range 0..=1")]
    NotShare(f64),
    #[error("{0} must be a number above 0")]
    NotPositive(f64),
    #[error("{0} is below 2 (a group merges at least two services)")]
    GroupTooSmall(usize),
}

/// A share or ratio: a finite number in 0..=1.
pub fn check_share(v: f64) -> Result<f64, RangeError> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(RangeError::NotShare(v))
    }
}

/// A finite number above zero.
pub fn check_positive(v: f64) -> Result<f64, RangeError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(RangeError::NotPositive(v))
    }
}

/// A group holds at least two services.
pub fn check_group_size(n: usize) -> Result<usize, RangeError> {
    if n >= 2 {
        Ok(n)
    } else {
        Err(RangeError::GroupTooSmall(n))
    }
}
