//! store-elastic against the server named by `ELASTICSEARCH_URL` (with `ELASTICSEARCH_USERNAME`
//! and `ELASTICSEARCH_PASSWORD`, or `ELASTICSEARCH_API_KEY`, when the cluster needs them): the
//! shared back-end conformance suite, then what is particular to this back-end. `make test`
//! starts an Elasticsearch-API server and sets the variable; without it every test fails with a
//! message saying how to start one.

mod request_types;
mod specific;

use std::sync::Arc;

use store_core::VectorStore;
use store_elastic::{ElasticOptions, ElasticStore};

pub fn options() -> ElasticOptions {
    let url = std::env::var("ELASTICSEARCH_URL").expect(
        "ELASTICSEARCH_URL is not set: run `make test`, or `scripts/services.sh up es` and `eval \
         \"$(scripts/services.sh env)\"`",
    );
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    ElasticOptions {
        url,
        username: var("ELASTICSEARCH_USERNAME"),
        password: var("ELASTICSEARCH_PASSWORD").map(Into::into),
        api_key: var("ELASTICSEARCH_API_KEY").map(Into::into),
        insecure: var("ELASTICSEARCH_INSECURE").is_some_and(|v| v == "true" || v == "1"),
        // Tests create many indices: keep them apart from anything else on the cluster.
        index_prefix: "vstest_".into(),
        replicas: 0,
        ..Default::default()
    }
}

pub fn elastic() -> ElasticStore {
    ElasticStore::new(options()).expect("client")
}

#[allow(
    clippy::unused_async,
    reason = "the conformance suite's factory is an async fn"
)]
pub async fn store() -> Arc<dyn VectorStore> {
    Arc::new(elastic())
}

store_core::conformance_suite!(store);
