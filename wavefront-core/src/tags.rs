//! Application tags: where a series or span comes from (spec §4.1).

use std::fmt;

use crate::sanitize::{is_blank, trim};

/// The value written for an unset cluster or shard.
pub const NONE: &str = "none";

/// The application tags of a service: `application` and `service` are
/// required, `cluster` and `shard` optional (written as `none` when unset),
/// and any number of custom tags.
///
/// They label the framework metrics (at the levels of the naming scheme),
/// every span, the RED metrics and the `~component.heartbeat`.
///
/// ```
/// use wavefront_core::ApplicationTags;
///
/// let tags = ApplicationTags::builder("Ordering", "styling")
///     .cluster("us-west-1")
///     .shard("primary")
///     .custom_tag("location", "Oregon")
///     .build()
///     .unwrap();
/// assert_eq!(tags.cluster(), "us-west-1");
/// assert_eq!(ApplicationTags::builder("Ordering", "styling").build().unwrap().shard(), "none");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationTags {
    application: String,
    service: String,
    cluster: Option<String>,
    shard: Option<String>,
    custom: Vec<(String, String)>,
}

/// Builds [`ApplicationTags`]; see [`ApplicationTags::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ApplicationTagsBuilder {
    tags: ApplicationTags,
}

/// Why [`ApplicationTags`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApplicationTagsError {
    /// The application name is empty or white space.
    BlankApplication,
    /// The service name is empty or white space.
    BlankService,
    /// A custom tag has a blank key or value.
    BlankCustomTag {
        /// The key as given.
        key: String,
    },
    /// A custom tag would replace one of the four application tags.
    ReservedCustomTag {
        /// The key as given.
        key: String,
    },
}

impl fmt::Display for ApplicationTagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlankApplication => f.write_str("application name is blank"),
            Self::BlankService => f.write_str("service name is blank"),
            Self::BlankCustomTag { key } => write!(f, "custom tag {key:?} has a blank key or value"),
            Self::ReservedCustomTag { key } => write!(
                f,
                "custom tag {key:?} would replace an application tag (application, service, cluster, shard)"
            ),
        }
    }
}

impl std::error::Error for ApplicationTagsError {}

const RESERVED: [&str; 4] = ["application", "service", "cluster", "shard"];

fn set(value: &str) -> Option<String> {
    (!is_blank(value)).then(|| trim(value).to_owned())
}

impl ApplicationTags {
    /// Starts tags for `application` and `service`.
    pub fn builder(
        application: impl Into<String>,
        service: impl Into<String>,
    ) -> ApplicationTagsBuilder {
        ApplicationTagsBuilder {
            tags: ApplicationTags {
                application: application.into(),
                service: service.into(),
                cluster: None,
                shard: None,
                custom: Vec::new(),
            },
        }
    }

    /// The application name.
    #[must_use]
    pub fn application(&self) -> &str {
        &self.application
    }

    /// The service name.
    #[must_use]
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The cluster, or `none`.
    #[must_use]
    pub fn cluster(&self) -> &str {
        self.cluster.as_deref().unwrap_or(NONE)
    }

    /// The shard, or `none`.
    #[must_use]
    pub fn shard(&self) -> &str {
        self.shard.as_deref().unwrap_or(NONE)
    }

    /// The custom tags, in the order they were added.
    #[must_use]
    pub fn custom_tags(&self) -> &[(String, String)] {
        &self.custom
    }

    /// The point tags of a series of the application's: `application`,
    /// `cluster`, `service`, `shard`, then `tags` (less those keys, which
    /// the application's own win), as the SDK's series carry them.
    ///
    /// ```
    /// use wavefront_core::ApplicationTags;
    ///
    /// let app = ApplicationTags::builder("Ordering", "styling").build()?;
    /// let tags = app.series_tags([("tier", "gold"), ("service", "not-mine")]);
    /// assert_eq!(tags[2], ("service", "styling"));
    /// assert_eq!(tags[4], ("tier", "gold"));
    /// assert_eq!(tags.len(), 5);
    /// # Ok::<(), wavefront_core::ApplicationTagsError>(())
    /// ```
    #[must_use]
    pub fn series_tags<'a>(
        &'a self,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<(&'a str, &'a str)> {
        const OWN: [&str; 4] = ["application", "cluster", "service", "shard"];
        let mut all = vec![
            ("application", self.application()),
            ("cluster", self.cluster()),
            ("service", self.service()),
            ("shard", self.shard()),
        ];
        all.extend(tags.into_iter().filter(|(k, _)| !OWN.contains(k)));
        all
    }

    /// All tags in the order spans carry them: application, service,
    /// cluster, shard, then the custom tags.
    #[must_use]
    pub fn span_tags(&self) -> Vec<(String, String)> {
        let mut tags = vec![
            ("application".to_owned(), self.application.clone()),
            ("service".to_owned(), self.service.clone()),
            ("cluster".to_owned(), self.cluster().to_owned()),
            ("shard".to_owned(), self.shard().to_owned()),
        ];
        tags.extend(self.custom.iter().cloned());
        tags
    }
}

impl ApplicationTagsBuilder {
    /// Sets the cluster; a blank value leaves it unset (`none`).
    pub fn cluster(mut self, cluster: &str) -> Self {
        self.tags.cluster = set(cluster);
        self
    }

    /// Sets the shard; a blank value leaves it unset (`none`).
    pub fn shard(mut self, shard: &str) -> Self {
        self.tags.shard = set(shard);
        self
    }

    /// Adds a custom tag; a later tag with the same key replaces the earlier.
    pub fn custom_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let (key, value) = (key.into(), value.into());
        self.tags.custom.retain(|(k, _)| *k != key);
        self.tags.custom.push((key, value));
        self
    }

    /// Checks the tags and returns them.
    pub fn build(mut self) -> Result<ApplicationTags, ApplicationTagsError> {
        let tags = &mut self.tags;
        if is_blank(&tags.application) {
            return Err(ApplicationTagsError::BlankApplication);
        }
        if is_blank(&tags.service) {
            return Err(ApplicationTagsError::BlankService);
        }
        tags.application = trim(&tags.application).to_owned();
        tags.service = trim(&tags.service).to_owned();
        for (key, value) in &tags.custom {
            if is_blank(key) || is_blank(value) {
                return Err(ApplicationTagsError::BlankCustomTag { key: key.clone() });
            }
            if RESERVED.contains(&trim(key)) {
                return Err(ApplicationTagsError::ReservedCustomTag { key: key.clone() });
            }
        }
        Ok(self.tags)
    }
}

/// This machine's host name, or `unknown`: the default source of every
/// point and span.
#[must_use]
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_cluster_and_shard_read_none() {
        let tags = ApplicationTags::builder(" Ordering ", "styling")
            .cluster("  ")
            .build()
            .unwrap();
        assert_eq!(
            (tags.application(), tags.cluster(), tags.shard()),
            ("Ordering", "none", "none")
        );
    }

    #[test]
    fn refuses_blank_and_reserved() {
        assert_eq!(
            ApplicationTags::builder("", "s").build(),
            Err(ApplicationTagsError::BlankApplication)
        );
        assert_eq!(
            ApplicationTags::builder("a", "\t").build(),
            Err(ApplicationTagsError::BlankService)
        );
        assert!(matches!(
            ApplicationTags::builder("a", "s")
                .custom_tag("env", " ")
                .build(),
            Err(ApplicationTagsError::BlankCustomTag { .. })
        ));
        assert!(matches!(
            ApplicationTags::builder("a", "s")
                .custom_tag("shard", "x")
                .build(),
            Err(ApplicationTagsError::ReservedCustomTag { .. })
        ));
    }

    #[test]
    fn span_tags_in_reference_order() {
        let tags = ApplicationTags::builder("Ordering", "styling")
            .cluster("us-west-1")
            .shard("primary")
            .custom_tag("location", "Oregon")
            .custom_tag("env", "Staging")
            .build()
            .unwrap();
        let keys: Vec<_> = tags.span_tags().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "application",
                "service",
                "cluster",
                "shard",
                "location",
                "env"
            ]
        );
    }
}
