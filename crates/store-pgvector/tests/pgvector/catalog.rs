//! The catalog: tenants, hashed keys, collections, all scoped by tenant.

use serde_json::{Map, json};
use store_core::{
    Catalog, CollectionRecord, CollectionUpdate, ErrorKind, PageOrder, PageRequest, now_unix,
};
use store_pgvector::PgCatalog;

use crate::pool;

pub(crate) fn unique(prefix: &str) -> String {
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

fn new_collection(tenant_id: &str, name: &str) -> CollectionRecord {
    CollectionRecord {
        id: format!("vs_{}", uuid_like()),
        tenant_id: tenant_id.into(),
        collection: name.into(),
        name: Some("Display name".into()),
        backend: "pgvector".into(),
        model: Some("all-minilm-l6-v2".into()),
        dimension: 384,
        metadata: json!({"team": "search"}).as_object().cloned().unwrap(),
        expires_after_days: Some(7),
        created_at: now_unix(),
        last_active_at: now_unix(),
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

#[tokio::test]
async fn keys_are_revoked_by_an_unambiguous_prefix_only() {
    let catalog = PgCatalog::new(pool().await);
    let tenant = unique("prefix");
    let shared = format!("vsk_{}", uuid::Uuid::new_v4().simple());
    let hash = |n: u8| format!("{}{n:02}", uuid::Uuid::new_v4().simple());
    let (h1, h2) = (hash(1), hash(2));
    let one = catalog.insert_api_key(&tenant, &h1, &shared).await.unwrap();
    let two = catalog.insert_api_key(&tenant, &h2, &shared).await.unwrap();

    let err = catalog.revoke_api_key(&shared).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("2 active keys"), "{err}");
    assert!(catalog.tenant_for_key_hash(&h1).await.unwrap().is_some());
    assert!(catalog.tenant_for_key_hash(&h2).await.unwrap().is_some());

    // By id, then the prefix names one active key.
    assert_eq!(catalog.revoke_api_key(&one.id).await.unwrap().id, one.id);
    let by_prefix = catalog.revoke_api_key(&shared).await.unwrap();
    assert_eq!(by_prefix.id, two.id);
    assert!(by_prefix.revoked_at.is_some());
    assert!(catalog.tenant_for_key_hash(&h2).await.unwrap().is_none());
    assert_eq!(
        catalog.revoke_api_key(&shared).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        catalog
            .revoke_api_key("vsk_nothing_like_it")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn touch_and_update_move_last_active_at_and_stay_in_the_tenant() {
    let catalog = PgCatalog::new(pool().await);
    let a = catalog.ensure_tenant(&unique("touch_a")).await.unwrap();
    let b = catalog.ensure_tenant(&unique("touch_b")).await.unwrap();
    let created = catalog
        .create_collection(new_collection(&a.id, "touched"))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    catalog.touch_collection(&a.id, &created.id).await.unwrap();
    let touched = catalog.get_collection(&a.id, &created.id).await.unwrap();
    assert!(touched.last_active_at > created.last_active_at);
    assert_eq!(touched.created_at, created.created_at);

    // Another tenant's touch changes nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    catalog.touch_collection(&b.id, &created.id).await.unwrap();
    assert_eq!(
        catalog
            .get_collection(&a.id, &created.id)
            .await
            .unwrap()
            .last_active_at,
        touched.last_active_at
    );

    let updated = catalog
        .update_collection(
            &a.id,
            &created.id,
            CollectionUpdate {
                name: Some(None),
                metadata: Some(json!({"v": 2}).as_object().cloned().unwrap()),
                expires_after_days: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, None);
    assert_eq!(
        updated.metadata,
        json!({"v": 2}).as_object().cloned().unwrap()
    );
    assert_eq!(
        updated.expires_after_days,
        Some(7),
        "None leaves it as it is"
    );
    assert!(updated.last_active_at > touched.last_active_at);
    let err = catalog
        .update_collection(&b.id, &created.id, CollectionUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn collections_page_by_id_both_ways() {
    let catalog = PgCatalog::new(pool().await);
    let t = catalog.ensure_tenant(&unique("pages")).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut new = new_collection(&t.id, &format!("c{i}"));
        new.id = format!("vs_{}", uuid::Uuid::now_v7().simple());
        ids.push(catalog.create_collection(new).await.unwrap().id);
    }
    let page = |order, after: Option<&String>, before: Option<&String>| PageRequest {
        limit: 2,
        order,
        after: after.cloned(),
        before: before.cloned(),
    };
    let ids_of = |(rows, more): (Vec<store_core::CollectionRecord>, bool)| {
        (rows.into_iter().map(|r| r.id).collect::<Vec<_>>(), more)
    };
    let first = ids_of(
        catalog
            .page_collections(&t.id, page(PageOrder::Asc, None, None))
            .await
            .unwrap(),
    );
    assert_eq!(first, (ids[0..2].to_vec(), true));
    let last = ids_of(
        catalog
            .page_collections(&t.id, page(PageOrder::Asc, Some(&ids[3]), None))
            .await
            .unwrap(),
    );
    assert_eq!(last, (vec![ids[4].clone()], false));
    let desc = ids_of(
        catalog
            .page_collections(&t.id, page(PageOrder::Desc, Some(&ids[4]), None))
            .await
            .unwrap(),
    );
    assert_eq!(desc, (vec![ids[3].clone(), ids[2].clone()], true));
    let before = ids_of(
        catalog
            .page_collections(&t.id, page(PageOrder::Asc, None, Some(&ids[1])))
            .await
            .unwrap(),
    );
    assert_eq!(before, (vec![ids[0].clone()], false));
}

#[tokio::test]
async fn touching_an_expired_collection_does_not_revive_it() {
    use diesel_async::RunQueryDsl;
    let pool = pool().await;
    let catalog = PgCatalog::new(pool.clone());
    let a = catalog.ensure_tenant(&unique("expired")).await.unwrap();
    let created = catalog
        .create_collection(new_collection(&a.id, "old"))
        .await
        .unwrap();
    // Unused for eight days, with a seven-day expiry.
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(
        "UPDATE collections SET last_active_at = last_active_at - 8 * 86400 WHERE id = $1",
    )
    .bind::<diesel::sql_types::Text, _>(created.id.clone())
    .execute(&mut conn)
    .await
    .unwrap();
    let expired = catalog.get_collection(&a.id, &created.id).await.unwrap();
    catalog.touch_collection(&a.id, &created.id).await.unwrap();
    let after = catalog.get_collection(&a.id, &created.id).await.unwrap();
    assert_eq!(
        after.last_active_at, expired.last_active_at,
        "still expired"
    );

    // Without an expiry, a touch moves last_active_at as usual.
    let mut fresh = new_collection(&a.id, "fresh");
    fresh.expires_after_days = None;
    let fresh = catalog.create_collection(fresh).await.unwrap();
    diesel::sql_query(
        "UPDATE collections SET last_active_at = last_active_at - 8 * 86400 WHERE id = $1",
    )
    .bind::<diesel::sql_types::Text, _>(fresh.id.clone())
    .execute(&mut conn)
    .await
    .unwrap();
    catalog.touch_collection(&a.id, &fresh.id).await.unwrap();
    let after = catalog.get_collection(&a.id, &fresh.id).await.unwrap();
    assert!(after.last_active_at >= fresh.created_at);
}

#[tokio::test]
async fn expired_collections_are_listed_for_the_sweep_until_their_chunks_are_freed() {
    use diesel_async::RunQueryDsl;
    let pool = pool().await;
    let catalog = PgCatalog::new(pool.clone());
    let a = catalog.ensure_tenant(&unique("sweep")).await.unwrap();
    let old = catalog
        .create_collection(new_collection(&a.id, "old"))
        .await
        .unwrap();
    let young = catalog
        .create_collection(new_collection(&a.id, "young"))
        .await
        .unwrap();
    let mut forever = new_collection(&a.id, "forever");
    forever.expires_after_days = None;
    let forever = catalog.create_collection(forever).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    // Eight days unused: past the seven-day expiry of `old`; `forever` has none.
    for id in [&old.id, &forever.id] {
        diesel::sql_query(
            "UPDATE collections SET last_active_at = last_active_at - 8 * 86400 WHERE id = $1",
        )
        .bind::<diesel::sql_types::Text, _>(id.clone())
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let due = |records: Vec<store_core::CollectionRecord>| -> Vec<String> {
        records
            .into_iter()
            .map(|r| r.id)
            .filter(|id| [&old.id, &young.id, &forever.id].contains(&id))
            .collect()
    };
    let now = store_core::now_unix();
    // A back-end this server lacks is another server's to sweep.
    assert!(
        due(catalog
            .expired_collections(now, vec!["elasticsearch".into()], 10_000)
            .await
            .unwrap())
        .is_empty()
    );
    assert_eq!(
        due(catalog
            .expired_collections(now, vec!["pgvector".into()], 10_000)
            .await
            .unwrap()),
        [old.id.as_str()]
    );
    catalog.mark_chunks_freed(&old.id, now).await.unwrap();
    assert!(
        due(catalog
            .expired_collections(now, vec!["pgvector".into()], 10_000)
            .await
            .unwrap())
        .is_empty()
    );
    // The young one is due once its own expiry has passed.
    assert_eq!(
        due(catalog
            .expired_collections(now + 8 * 86_400, vec!["pgvector".into()], 10_000)
            .await
            .unwrap()),
        [young.id.as_str()]
    );
}

#[tokio::test]
async fn the_pool_status_counts_connections_held_lent_out_and_waited_for() {
    let pool = pool().await; // at most 4 connections
    let catalog = PgCatalog::new(pool.clone());
    let idle = catalog.pool_status().expect("a catalog over a pool");
    assert_eq!((idle.in_use, idle.waiting), (0, 0), "{idle:?}");
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get().await.unwrap());
    }
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.get().await.map(drop) })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let busy = catalog.pool_status().unwrap();
    assert_eq!(busy.size, 4, "{busy:?}");
    assert_eq!(busy.in_use, 4, "{busy:?}");
    assert_eq!(busy.waiting, 1, "{busy:?}");
    drop(held);
    waiter.await.unwrap().unwrap();
    let after = catalog.pool_status().unwrap();
    assert_eq!((after.in_use, after.waiting), (0, 0), "{after:?}");
}
