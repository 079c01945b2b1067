//! Object storage in the end-to-end tests: a fresh bucket (and key prefix) per test on the
//! S3-API server named by `VECTOR_STORE_TEST_S3_ENDPOINT` (which `make test` starts), the
//! settings and environment that point a server at it, and what the bucket holds.

use service::blob::S3Settings;
use vector_store_server::settings::{FilesBackend, Settings};

/// The tests' S3-API server; a test fails, saying how to start one, without it.
pub fn s3_endpoint() -> String {
    std::env::var("VECTOR_STORE_TEST_S3_ENDPOINT").expect(
        "VECTOR_STORE_TEST_S3_ENDPOINT is not set: run the tests with `make test`, or start one \
         with `scripts/services.sh up s3` and `eval \"$(scripts/services.sh env)\"`",
    )
}

/// A bucket of its own on the tests' S3 server, with its key prefix.
#[derive(Debug, Clone)]
pub struct Bucket {
    pub settings: S3Settings,
}

impl Bucket {
    /// A new, empty bucket; keys go under `prefix`.
    pub async fn new(prefix: &str) -> Bucket {
        let endpoint = s3_endpoint();
        let bucket = format!("e2e-{}", uuid::Uuid::new_v4().simple());
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("the S3 server answers");
        assert!(
            created.status().is_success(),
            "making the bucket: {}",
            created.status()
        );
        Bucket {
            settings: S3Settings {
                bucket,
                prefix: prefix.to_string(),
                endpoint,
                access_key_id: "test".into(),
                secret_access_key: "test".into(),
                allow_http: true,
                ..S3Settings::default()
            },
        }
    }

    /// `settings` with their files in this bucket (and a files directory that is never made).
    pub fn apply(&self, settings: &mut Settings) {
        settings.files.backend = FilesBackend::S3;
        settings.files.s3 = self.settings.clone();
        settings.files.dir =
            std::env::temp_dir().join(format!("vs-unused-{}", uuid::Uuid::new_v4()));
    }

    /// The environment that points a server process at this bucket.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let s = &self.settings;
        vec![
            ("VECTOR_STORE__FILES__BACKEND", "s3".into()),
            ("VECTOR_STORE__FILES__S3__BUCKET", s.bucket.clone()),
            ("VECTOR_STORE__FILES__S3__PREFIX", s.prefix.clone()),
            ("VECTOR_STORE__FILES__S3__ENDPOINT", s.endpoint.clone()),
            ("VECTOR_STORE__FILES__S3__ACCESS_KEY_ID", "test".into()),
            ("VECTOR_STORE__FILES__S3__SECRET_ACCESS_KEY", "test".into()),
            ("VECTOR_STORE__FILES__S3__ALLOW_HTTP", "true".into()),
        ]
    }

    /// Every key in the bucket, sorted (S3's `ListObjectsV2`; fewer than a page in tests).
    pub async fn keys(&self) -> Vec<String> {
        let s = &self.settings;
        let url = format!("{}/{}?list-type=2", s.endpoint, s.bucket);
        let body = reqwest::get(url).await.unwrap().text().await.unwrap();
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|k| k.split("</Key>").next().map(str::to_string))
            .collect();
        keys.sort();
        keys
    }

    /// The multipart uploads begun and neither completed nor aborted.
    pub async fn uploads_in_progress(&self) -> usize {
        let s = &self.settings;
        let url = format!("{}/{}?uploads", s.endpoint, s.bucket);
        let body = reqwest::get(url).await.unwrap().text().await.unwrap();
        body.matches("<Upload>").count()
    }

    /// Stores `bytes` at `key` (under the prefix) behind the service's back.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        let s = &self.settings;
        let url = format!("{}/{}/{}/{key}", s.endpoint, s.bucket, s.prefix);
        let r = reqwest::Client::new()
            .put(url)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
}
