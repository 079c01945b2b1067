//! What the cluster is, from its answer to `GET /`, and whether this back-end can use it.
//!
//! The probe runs when the back-end starts and again whenever the cluster answers after a
//! failure to reach it. It decides what index creation sends (no shard settings on Serverless,
//! which refuses them) and the largest indexed vector the version takes, and refuses clusters the
//! back-end cannot work with, in one line that names what was found:
//! - anything that is not Elasticsearch (OpenSearch answers `GET /` too, with a distribution);
//! - Elasticsearch before 8.4, which has no `knn` option on `_search`;
//! - majors after 9, whose REST API this back-end has not been checked against.
//!
//! `GET /` needs the `monitor` cluster privilege. A key without it gets 403: the cluster is
//! reachable and the credentials valid, so the back-end works on without knowing the version
//! (shard settings as configured, dimensions up to [`MAX_DIMENSION`]).

use serde_json::Value;

/// Largest dimension of an indexed `dense_vector` in any supported version.
pub const MAX_DIMENSION: usize = 4096;

/// The oldest version with the `knn` search option this back-end sends.
const OLDEST: (u32, u32) = (8, 4);
/// The newest major this back-end's requests are checked against.
const NEWEST_MAJOR: u32 = 9;

/// How the cluster is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Self-managed or Elastic Cloud Hosted: the index settings are the operator's.
    Default,
    /// Elastic Cloud Serverless: shards and replicas are managed, and refused in index settings.
    Serverless,
}

/// What `GET /` said about a supported cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `major.minor.patch`.
    pub version: (u32, u32, u32),
    pub flavor: Flavor,
}

impl ClusterInfo {
    /// Reads the answer to `GET /`; an error names a cluster this back-end cannot work with.
    pub fn from_root(body: &Value) -> Result<Self, String> {
        let text = |p: &str| body.pointer(p).and_then(Value::as_str);
        let number = text("/version/number").unwrap_or_default();
        let distribution = text("/version/distribution").unwrap_or("elasticsearch");
        let tagline = text("/tagline").unwrap_or_default();
        if !distribution.eq_ignore_ascii_case("elasticsearch") || tagline.contains("OpenSearch") {
            return Err(format!(
                "the cluster is {distribution} {number}, not Elasticsearch: this back-end needs \
                 Elasticsearch 8.4 or later (8.x or 9.x)"
            ));
        }
        let version = parse_version(number).ok_or_else(|| {
            format!(
                "the cluster's answer to GET / has no Elasticsearch version ({:?}): is the URL \
                 an Elasticsearch node?",
                truncated(number)
            )
        })?;
        let (major, minor, _) = version;
        if (major, minor) < OLDEST || major > NEWEST_MAJOR {
            return Err(format!(
                "the cluster is Elasticsearch {number}: this back-end needs Elasticsearch 8.4 or \
                 later, up to 9.x"
            ));
        }
        let flavor = match text("/version/build_flavor") {
            Some("serverless") => Flavor::Serverless,
            _ => Flavor::Default,
        };
        Ok(Self { version, flavor })
    }

    /// The largest dimension an indexed `dense_vector` may have: 1024 before 8.8, 2048 before
    /// 8.11, 4096 since (Serverless reports 8.11).
    pub fn max_dimension(&self) -> usize {
        match self.version {
            (8, minor, _) if minor < 8 => 1024,
            (8, minor, _) if minor < 11 => 2048,
            _ => MAX_DIMENSION,
        }
    }

    /// Whether index creation may carry `number_of_shards` and `number_of_replicas`.
    pub fn takes_shard_settings(&self) -> bool {
        self.flavor == Flavor::Default
    }
}

/// `8.15.3`, `9.0.0-SNAPSHOT`, `8.11.0-rc1` → the three numbers.
fn parse_version(number: &str) -> Option<(u32, u32, u32)> {
    let core = number.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// At most 40 characters of what a server put where a version belongs.
fn truncated(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root(number: &str, flavor: &str) -> Value {
        json!({
            "name": "node-1",
            "cluster_name": "c",
            "version": {
                "number": number,
                "build_flavor": flavor,
                "build_type": "docker",
                "lucene_version": "9.11.1",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0"
            },
            "tagline": "You Know, for Search"
        })
    }

    #[test]
    fn supported_versions_are_read_with_their_largest_vector() {
        let cases = [
            ("8.4.0", 1024),
            ("8.7.1", 1024),
            ("8.8.0", 2048),
            ("8.10.4", 2048),
            ("8.11.0", 4096),
            ("8.19.3", 4096),
            ("9.0.0-SNAPSHOT", 4096),
            ("9.2.1", 4096),
        ];
        for (number, dims) in cases {
            let info = ClusterInfo::from_root(&root(number, "default")).expect(number);
            assert_eq!(info.max_dimension(), dims, "{number}");
            assert!(info.takes_shard_settings(), "{number}");
        }
    }

    #[test]
    fn serverless_takes_no_shard_settings() {
        let info = ClusterInfo::from_root(&root("8.11.0", "serverless")).unwrap();
        assert_eq!(info.flavor, Flavor::Serverless);
        assert!(!info.takes_shard_settings());
        assert_eq!(info.max_dimension(), 4096);
    }

    #[test]
    fn clusters_that_cannot_work_are_refused_in_one_line_naming_them() {
        let opensearch = json!({
            "version": { "distribution": "opensearch", "number": "2.17.0" },
            "tagline": "The OpenSearch Project: https://opensearch.org/"
        });
        let cases = [
            (root("7.17.24", "default"), "Elasticsearch 7.17.24"),
            (root("8.3.3", "default"), "Elasticsearch 8.3.3"),
            (root("10.0.0", "default"), "Elasticsearch 10.0.0"),
            (opensearch, "opensearch 2.17.0, not Elasticsearch"),
            (json!({ "ok": true }), "no Elasticsearch version"),
            (Value::Null, "no Elasticsearch version"),
        ];
        for (body, expected) in cases {
            let e = ClusterInfo::from_root(&body).unwrap_err();
            assert!(e.contains(expected), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn version_strings_read_leniently() {
        assert_eq!(parse_version("8.15.3"), Some((8, 15, 3)));
        assert_eq!(parse_version("8.11.0-rc1"), Some((8, 11, 0)));
        assert_eq!(parse_version("9"), Some((9, 0, 0)));
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("x.y"), None);
    }
}
