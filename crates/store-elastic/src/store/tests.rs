//! Tests of the store's checks and index names, without a cluster.

use super::transport::backoff;
use super::*;
use std::time::Duration;

#[test]
fn vectors_must_have_the_dimension_finite_components_and_a_direction() {
    let spec = CollectionSpec::new("c", 2).unwrap();
    assert!(spec.check_vector(&[1.0, 0.0]).is_ok());
    for bad in [vec![1.0], vec![f32::NAN, 1.0], vec![0.0, 0.0]] {
        assert!(spec.check_vector(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn only_plain_lowercase_names_become_indices() {
    let store = ElasticStore::new(ElasticOptions {
        url: "http://127.0.0.1:1".into(),
        ..Default::default()
    })
    .unwrap();
    let spec = |name: &str| CollectionSpec::new(name, 3);
    assert_eq!(store.index(&spec("vs_a1").unwrap()), "vectorstore_vs_a1");
    for bad in ["", "Abc", "a-b", "a/b", "..", "a b", "ü"] {
        assert!(spec(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn back_off_doubles_and_is_capped() {
    assert_eq!(backoff(0), Duration::from_millis(100));
    assert_eq!(backoff(2), Duration::from_millis(400));
    assert_eq!(backoff(40), backoff(6));
}
