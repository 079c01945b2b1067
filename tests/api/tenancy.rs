//! Tenants never see each other's collections; keys are required.

use e2e_tests::{assert_envelope, spawn_app};
use serde_json::json;

use crate::platform::{corpus, seed};

#[tokio::test]
async fn another_tenants_collection_is_a_404_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    seed(&app, "private").await;
    let b = &app.key_b;

    let list = app.call_as(b, "GET", "/v1/api/collection", None).await;
    assert_eq!(list.status, 200);
    assert!(list.body["data"].as_array().unwrap().is_empty());

    let foreign = [
        (
            "POST",
            "/v1/api/search",
            json!({"collection": "private", "query": "whale"}),
        ),
        (
            "DELETE",
            "/v1/api/delete_index",
            json!({"collection": "private"}),
        ),
        (
            "DELETE",
            "/v1/api/collection/delete_by_ids",
            json!({"collection": "private", "index_ids": ["whale"]}),
        ),
        (
            "DELETE",
            "/v1/api/collection/delete",
            json!({"collection": "private"}),
        ),
    ];
    for (method, path, body) in foreign {
        let theirs = app.call_as(b, method, path, Some(body.clone())).await;
        let mut missing_body = body.clone();
        missing_body["collection"] = json!("nosuchcollection");
        let missing = app.call_as(b, method, path, Some(missing_body)).await;
        let e1 = assert_envelope(&theirs, 404).clone();
        let e2 = assert_envelope(&missing, 404).clone();
        assert_eq!(e1["type"], e2["type"]);
        assert_eq!(e1["code"], e2["code"]);
        assert!(
            !e1["message"].as_str().unwrap().contains("vs_"),
            "no internal id leaks: {e1:?}"
        );
    }
    let r = app
        .call_as(b, "GET", "/v1/api/collection/data?collection=private", None)
        .await;
    assert_envelope(&r, 404);
    let r = app.call_as(b, "GET", "/v2/collections/private", None).await;
    assert_envelope(&r, 404);

    // B may use the same name for a collection of its own, and the two stay apart.
    let r = app
        .call_as(
            b,
            "POST",
            "/v1/api/index",
            Some(json!({
                "collection": "private",
                "documents": [{"id": "b1", "content": "tenant b's only document"}]
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a_page = app
        .call(
            "GET",
            "/v1/api/collection/data?collection=private&limit=100",
            None,
        )
        .await;
    assert_eq!(a_page.body["total"], 12);
    let b_page = app
        .call_as(b, "GET", "/v1/api/collection/data?collection=private", None)
        .await;
    assert_eq!(b_page.body["total"], 1);
    let hits = app
        .call_as(
            b,
            "POST",
            "/v1/api/search",
            Some(json!({"collection": "private", "query": "whale"})),
        )
        .await;
    assert_eq!(hits.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(hits.body["data"][0]["file_id"], "b1");
    assert_eq!(corpus().as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn a_missing_or_unknown_key_is_a_401_but_health_needs_none() {
    let app = spawn_app().await;
    let r = app
        .send(app.client.get(app.url("/v1/api/collection")))
        .await;
    let e = assert_envelope(&r, 401);
    assert_eq!(e["code"], "invalid_api_key");
    let r = app
        .call_as("vsk_not_a_real_key", "GET", "/v1/api/collection", None)
        .await;
    let e = assert_envelope(&r, 401);
    assert!(
        !e["message"]
            .as_str()
            .unwrap()
            .contains("vsk_not_a_real_key")
    );
    let r = app
        .send(
            app.client
                .get(app.url("/v1/api/collection"))
                .header("x-base-api-key", &app.key_a),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!(r.status, 200);
    let r = app.send(app.client.get(app.url("/ready"))).await;
    assert_eq!(r.status, 200);
}

/// A tenant lists, creates and revokes its own keys through `/v1/api/keys`, and sees or revokes
/// nothing of another tenant's.
#[tokio::test]
async fn a_tenant_manages_its_own_keys_and_no_one_elses() {
    let app = spawn_app().await;
    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = app.call("GET", "/v1/api/keys", None).await;
    assert_eq!(before.status, 200, "{}", before.body);
    let mine = before.body["data"].as_array().unwrap();
    assert!(
        mine.iter()
            .any(|k| app.key_a.starts_with(k["prefix"].as_str().unwrap())),
        "{}",
        before.body
    );
    assert!(
        mine.iter()
            .all(|k| k.get("key").is_none() && k["object"] == "api_key")
    );

    let made = app.call("POST", "/v1/api/keys", None).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let key = made.body["key"].as_str().unwrap().to_string();
    let id = made.body["id"].as_str().unwrap().to_string();
    assert!(key.starts_with(made.body["prefix"].as_str().unwrap()));
    assert!(made.body["revoked_at"].is_null());
    // The new key is the same tenant's: it sees what key_a made.
    let store = app.vector_store("keys").await;
    let seen = app
        .call_as(&key, "GET", &format!("/v1/vector_stores/{store}"), None)
        .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let listed = app.call("GET", "/v1/api/keys", None).await;
    assert!(ids(&listed.body).contains(&id));
    assert!(
        !listed.body.to_string().contains(&key),
        "a listed key shows itself"
    );

    // Another tenant neither sees it nor revokes it.
    let theirs = app.call_as(&app.key_b, "GET", "/v1/api/keys", None).await;
    assert!(!ids(&theirs.body).contains(&id), "{}", theirs.body);
    let refused = app
        .call_as(&app.key_b, "DELETE", &format!("/v1/api/keys/{id}"), None)
        .await;
    assert_envelope(&refused, 404);
    assert_eq!(
        app.call_as(&key, "GET", "/v1/vector_stores", None)
            .await
            .status,
        200
    );

    let revoked = app
        .call("DELETE", &format!("/v1/api/keys/{id}"), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert!(revoked.body["revoked_at"].as_i64().is_some());
    assert_envelope(
        &app.call_as(&key, "GET", "/v1/vector_stores", None).await,
        401,
    );
    assert_envelope(
        &app.call("DELETE", &format!("/v1/api/keys/{id}"), None)
            .await,
        404,
    );
    assert_envelope(
        &app.call("DELETE", "/v1/api/keys/key_unknown", None).await,
        404,
    );
    // The caller's own key still works.
    assert_eq!(app.call("GET", "/v1/api/keys", None).await.status, 200);
}

/// In open mode every caller is the default tenant, so only this machine may call: a request
/// for another host name (a DNS-rebinding page) or from another site's page is 403.
#[tokio::test]
async fn open_mode_refuses_other_hosts_and_other_sites_pages() {
    let mut settings = e2e_tests::test_settings();
    settings.auth.mode = service::AuthMode::Open;
    let app = e2e_tests::spawn_app_with(settings).await;
    let get = |host: Option<&str>, origin: Option<&str>, site: Option<&str>| {
        let mut req = app.client.get(app.url("/v1/vector_stores"));
        if let Some(h) = host {
            req = req.header("host", h);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        app.send(req)
    };
    assert_eq!(get(None, None, None).await.status, 200);
    assert_eq!(
        get(
            Some("localhost:8080"),
            Some("http://localhost:8080"),
            Some("same-origin")
        )
        .await
        .status,
        200
    );
    for (host, origin, site) in [
        (Some("rebound.example:8080"), None, None),
        (None, Some("https://evil.example"), None),
        (None, Some("null"), None),
        (None, None, Some("cross-site")),
    ] {
        let reply = get(host, origin, site).await;
        let error = assert_envelope(&reply, 403);
        assert_eq!(error["code"], "forbidden", "{}", reply.body);
    }
    // A page of another site cannot upload either (a form post names its origin).
    let upload = app
        .send(
            app.client
                .post(app.url("/v1/files"))
                .header("origin", "https://evil.example")
                .multipart(e2e_tests::upload_form("x.txt", b"hello".to_vec())),
        )
        .await;
    assert_envelope(&upload, 403);
    // Keys mode answers any host: the key, not the address, decides.
    let keyed = spawn_app().await;
    let reply = keyed
        .send(
            keyed
                .client
                .get(keyed.url("/v1/vector_stores"))
                .header("host", "api.example")
                .bearer_auth(&keyed.key_a),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

/// A tenant's keys come a page at a time, in the order of the whole list; another tenant's key
/// is no cursor.
#[tokio::test]
async fn a_tenants_keys_are_listed_in_pages() {
    let app = spawn_app().await;
    let mut made = Vec::new();
    for _ in 0..4 {
        let r = app.call("POST", "/v1/api/keys", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        made.push(r.body["id"].as_str().unwrap().to_string());
    }
    let all = app.call("GET", "/v1/api/keys", None).await;
    let all: Vec<String> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(made.iter().all(|id| all.contains(id)), "{all:?}");
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            None => "/v1/api/keys?limit=2".to_string(),
            Some(a) => format!("/v1/api/keys?limit=2&after={a}"),
        };
        let r = app.call("GET", &path, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page: Vec<String> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= 2);
        paged.extend(page.iter().cloned());
        if r.body["has_more"] == false {
            break;
        }
        after = page.last().cloned();
    }
    assert_eq!(paged, all);
    assert_envelope(&app.call("GET", "/v1/api/keys?limit=101", None).await, 400);
    // Another tenant's key id as a cursor starts nothing.
    let theirs = app.call_as(&app.key_b, "GET", "/v1/api/keys", None).await;
    let theirs = theirs.body["data"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .call("GET", &format!("/v1/api/keys?after={theirs}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.to_string().contains(&theirs));
}
