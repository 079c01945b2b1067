//! The catalog: tenants, hashed keys, collections, all scoped by tenant.

use serde_json::{Map, json};
use store_core::{Catalog, ErrorKind, NewCollection};
use store_pgvector::PgCatalog;

use crate::pool;

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{:x}", std::process::id())
}

fn new_collection(tenant_id: &str, name: &str) -> NewCollection {
    NewCollection {
        id: format!("vs_{}", uuid_like()),
        tenant_id: tenant_id.into(),
        collection: name.into(),
        name: Some("Display name".into()),
        backend: "pgvector".into(),
        model: Some("all-minilm-l6-v2".into()),
        dimension: 384,
        metadata: json!({"team": "search"}).as_object().cloned().unwrap(),
        expires_after_days: Some(7),
    }
}

#[tokio::test]
async fn tenants_are_created_once_by_name() {
    let catalog = PgCatalog::new(pool().await);
    let name = unique("tenant");
    let a = catalog.ensure_tenant(&name).await.unwrap();
    let b = catalog.ensure_tenant(&name).await.unwrap();
    assert_eq!(a, b);
}

#[tokio::test]
async fn keys_resolve_by_hash_until_revoked() {
    let catalog = PgCatalog::new(pool().await);
    let tenant = unique("keys");
    let hash = format!("{:0>64}", uuid_like());
    let prefix = format!("vsk_{}", &uuid_like()[..6]);
    let record = catalog
        .insert_api_key(&tenant, &hash, &prefix)
        .await
        .unwrap();
    assert_eq!(record.tenant.name, tenant);
    assert_eq!(
        catalog
            .tenant_for_key_hash(&hash)
            .await
            .unwrap()
            .unwrap()
            .name,
        tenant
    );
    assert!(
        catalog
            .tenant_for_key_hash("0".repeat(64).as_str())
            .await
            .unwrap()
            .is_none()
    );
    let listed = catalog.list_api_keys().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.id == record.id && k.revoked_at.is_none())
    );
    let revoked = catalog.revoke_api_key(&record.id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(catalog.tenant_for_key_hash(&hash).await.unwrap().is_none());
    let again = catalog.revoke_api_key(&record.id).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound);
    let dup = catalog
        .insert_api_key(&tenant, &hash, &prefix)
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict, "a key hash is stored once");
}

#[tokio::test]
async fn collections_are_scoped_by_tenant() {
    let catalog = PgCatalog::new(pool().await);
    let a = catalog.ensure_tenant(&unique("a")).await.unwrap();
    let b = catalog.ensure_tenant(&unique("b")).await.unwrap();
    let created = catalog
        .create_collection(new_collection(&a.id, "docs"))
        .await
        .unwrap();
    assert_eq!(created.collection, "docs");
    assert_eq!(created.dimension, 384);
    assert_eq!(created.expires_after_days, Some(7));
    assert_eq!(created.created_at, created.last_active_at);
    assert_eq!(
        created.metadata,
        json!({"team": "search"}).as_object().cloned().unwrap()
    );

    let dup = catalog
        .create_collection(new_collection(&a.id, "docs"))
        .await
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Conflict);
    assert!(dup.to_string().contains("docs"));
    // Another tenant may use the name.
    let mut other = new_collection(&b.id, "docs");
    other.metadata = Map::new();
    catalog.create_collection(other).await.unwrap();

    assert_eq!(
        catalog.get_collection(&a.id, &created.id).await.unwrap(),
        created
    );
    assert_eq!(
        catalog
            .get_collection_by_name(&a.id, "docs")
            .await
            .unwrap()
            .id,
        created.id
    );
    for e in [
        catalog
            .get_collection(&b.id, &created.id)
            .await
            .unwrap_err(),
        catalog
            .delete_collection(&b.id, &created.id)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(
            e.kind(),
            ErrorKind::NotFound,
            "another tenant's collection is not found"
        );
    }
    catalog
        .create_collection(new_collection(&a.id, "second"))
        .await
        .unwrap();
    let names: Vec<String> = catalog
        .list_collections(&a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.collection)
        .collect();
    assert_eq!(names, ["docs", "second"]);

    catalog.touch_collection(&a.id, &created.id).await.unwrap();
    catalog.delete_collection(&a.id, &created.id).await.unwrap();
    assert_eq!(
        catalog
            .get_collection(&a.id, &created.id)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(catalog.list_collections(&b.id).await.unwrap().len(), 1);
}
