//! Tests of key checks, the key cache, key management and open mode.

use super::*;
use store_core::MockCatalog;

fn tenant(name: &str) -> Tenant {
    Tenant::new(format!("t_{name}"), name)
}

/// A `keys`-mode service over `catalog` (which is given the default tenant), keys cached
/// for 30 s.
async fn keys_service(mut catalog: MockCatalog) -> AuthService {
    catalog
        .expect_ensure_tenant()
        .returning(|name| Ok(tenant(name)));
    AuthService::new(
        Arc::new(catalog),
        AuthMode::Keys,
        "default",
        Duration::from_secs(30),
    )
    .await
    .unwrap()
}

async fn service(mode: AuthMode, known_hash: String) -> AuthService {
    let mut catalog = MockCatalog::new();
    catalog
        .expect_ensure_tenant()
        .returning(|name| Ok(tenant(name)));
    catalog
        .expect_tenant_for_key_hash()
        .returning(move |h| Ok((h == known_hash).then(|| tenant("acme"))));
    AuthService::new(Arc::new(catalog), mode, "default", Duration::from_secs(30))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_up_whose_request_was_dropped_is_still_remembered() {
    let mut catalog = MockCatalog::new();
    // One slow look-up in all: the second request finds the key remembered.
    catalog
        .expect_tenant_for_key_hash()
        .times(1)
        .returning(|_| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(Some(tenant("acme")))
        });
    let svc = keys_service(catalog).await;
    let client = Some("10.0.0.1".parse().unwrap());
    // The request is dropped while its key is looked up (another check refused it).
    assert!(
        tokio::time::timeout(
            Duration::from_millis(20),
            svc.authenticate(Some("vsk_valid"), client)
        )
        .await
        .is_err()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..(ADDRESS_BURST as usize * 2) {
        assert_eq!(
            svc.authenticate(Some("vsk_valid"), client)
                .await
                .unwrap()
                .id,
            "t_acme"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_a_key_being_looked_up_wait_for_that_look_up() {
    let mut catalog = MockCatalog::new();
    catalog
        .expect_tenant_for_key_hash()
        .times(1)
        .returning(|_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(Some(tenant("acme")))
        });
    let svc = keys_service(catalog).await;
    let client = Some("10.0.0.2".parse().unwrap());
    // Twice the address's burst at once, for a key not yet known: one look-up, one spend.
    let answers = futures::future::join_all(
        (0..ADDRESS_BURST * 2).map(|_| svc.authenticate(Some("vsk_herd"), client)),
    )
    .await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|t| t.id == "t_acme"))
    );
}

#[tokio::test]
async fn unknown_keys_are_remembered_and_their_lookups_bounded() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut catalog = MockCatalog::new();
    let counted = calls.clone();
    catalog.expect_tenant_for_key_hash().returning(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(None)
    });
    let svc = keys_service(catalog).await;
    for _ in 0..50 {
        assert!(matches!(
            svc.authenticate(Some("vsk_same_bad_key"), None).await,
            Err(ServiceError::Unauthorized(_))
        ));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Made-up keys, each new: the database sees at most the burst, the rest wait.
    let mut limited = 0;
    for i in 0..(LOOKUP_BURST as usize + 100) {
        match svc
            .authenticate(Some(&format!("vsk_made_up_{i}")), None)
            .await
        {
            Err(ServiceError::RateLimited(_)) => limited += 1,
            Err(ServiceError::Unauthorized(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(limited >= 90, "{limited}");
    assert!(calls.load(Ordering::SeqCst) <= LOOKUP_BURST as usize + 12);
}

/// A catalog that knows `keys` (by hash, each of its tenant) and counts its look-ups.
fn catalog_of(
    keys: Arc<Mutex<HashMap<String, Tenant>>>,
    calls: Arc<AtomicU64>,
) -> Arc<dyn Catalog> {
    let mut catalog = MockCatalog::new();
    catalog
        .expect_ensure_tenant()
        .returning(|name| Ok(tenant(name)));
    let revoked = keys.clone();
    catalog.expect_tenant_for_key_hash().returning(move |h| {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(keys.lock().unwrap().get(h).cloned())
    });
    catalog
        .expect_revoke_tenant_api_key()
        .returning(move |tenant_id, id| {
            let mut keys = revoked.lock().unwrap();
            let hash = keys
                .iter()
                .find(|(h, t)| t.id == tenant_id && h.starts_with(id))
                .map(|(h, _)| h.clone())
                .ok_or_else(|| store_core::StoreError::NotFound {
                    what: "api key",
                    id: id.into(),
                })?;
            let t = keys.remove(&hash).unwrap();
            Ok(ApiKeyRecord {
                id: id.into(),
                tenant: t,
                prefix: String::new(),
                created_at: 0,
                revoked_at: Some(1),
            })
        });
    Arc::new(catalog)
}

fn addr(i: u32) -> Option<IpAddr> {
    Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)))
}

fn is_limited<T: std::fmt::Debug>(r: &Result<T, ServiceError>) -> bool {
    matches!(r, Err(ServiceError::RateLimited(_)))
}

#[tokio::test]
async fn one_sprayer_of_made_up_keys_spends_its_own_budget_not_others() {
    let calls = Arc::new(AtomicU64::new(0));
    let keys = Arc::new(Mutex::new(HashMap::new()));
    let svc = AuthService::new(
        catalog_of(keys, calls.clone()),
        AuthMode::Keys,
        "default",
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let limited = spray(&svc, addr(1), "a", 1000).await;
    assert!(limited >= 1000 - ADDRESS_BURST as usize - 5, "{limited}");
    assert!(calls.load(Ordering::SeqCst) <= u64::from(ADDRESS_BURST) + 5);
    // Another address still has its own budget, and everyone's is far from spent.
    assert_eq!(spray(&svc, addr(2), "b", 20).await, 0);
}

/// Tries `n` made-up keys from `client`; how many of them the budget refused.
async fn spray(svc: &AuthService, client: Option<IpAddr>, tag: &str, n: usize) -> usize {
    let mut limited = 0;
    for i in 0..n {
        let r = svc
            .authenticate(Some(&format!("vsk_made_up_{tag}_{i}")), client)
            .await;
        if is_limited(&r) {
            limited += 1;
        } else {
            assert!(matches!(r, Err(ServiceError::Unauthorized(_))), "{r:?}");
        }
    }
    limited
}

#[tokio::test]
async fn a_known_valid_key_is_never_refused_by_the_budget_and_outlives_any_spray() {
    let calls = Arc::new(AtomicU64::new(0));
    let key = generate_api_key();
    let keys = Arc::new(Mutex::new(HashMap::from([(
        hash_api_key(&key),
        tenant("acme"),
    )])));
    let svc = AuthService::new(
        catalog_of(keys, calls),
        AuthMode::Keys,
        "default",
        Duration::from_millis(20),
    )
    .await
    .unwrap();
    assert_eq!(
        svc.authenticate(Some(&key), addr(1)).await.unwrap().name,
        "acme"
    );
    // Far more keys than the cache of unknown keys holds are tried, from many addresses.
    let mut limited = 0;
    for a in 0..((MAX_MISSES as u32) * 2 / 50) {
        limited += spray(&svc, addr(1000 + a), &a.to_string(), 50).await;
    }
    assert!(limited > 0, "the spray was never refused");
    // The valid key's entry has expired meanwhile. Each time everyone's budget is spent
    // (addresses change before their own budgets run out), it is looked up again all the
    // same, unbudgeted.
    tokio::time::sleep(Duration::from_millis(30)).await;
    for round in 0..3 {
        let mut a = 0u32;
        while !is_limited(
            &svc.authenticate(
                Some(&format!("vsk_round{round}_{a}")),
                addr(500_000 + a / 40),
            )
            .await,
        ) {
            a += 1;
        }
        assert_eq!(
            svc.authenticate(Some(&key), addr(1)).await.unwrap().name,
            "acme"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn revoking_a_key_forgets_that_key_only() {
    let calls = Arc::new(AtomicU64::new(0));
    let (a1, a2, b) = (generate_api_key(), generate_api_key(), generate_api_key());
    let keys = Arc::new(Mutex::new(HashMap::from([
        (hash_api_key(&a1), tenant("a")),
        (hash_api_key(&a2), tenant("a")),
        (hash_api_key(&b), tenant("b")),
    ])));
    let svc = AuthService::new(
        catalog_of(keys, calls.clone()),
        AuthMode::Keys,
        "default",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    for k in [&a1, &a2, &b] {
        svc.authenticate(Some(k), None).await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    svc.revoke_key_of(&tenant("a"), &hash_api_key(&a1)[..12])
        .await
        .unwrap();
    assert!(matches!(
        svc.authenticate(Some(&a1), None).await,
        Err(ServiceError::Unauthorized(_))
    ));
    assert_eq!(svc.authenticate(Some(&a2), None).await.unwrap().name, "a");
    assert_eq!(svc.authenticate(Some(&b), None).await.unwrap().name, "b");
    // a1 and a2 were checked again; b was still cached.
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[test]
fn ipv6_callers_are_budgeted_by_their_network() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(budget_key(a), budget_key(b));
    assert_ne!(budget_key(a), budget_key(c));
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    assert_eq!(budget_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
}

#[test]
fn keys_are_long_random_and_hash_to_hex() {
    let (a, b) = (generate_api_key(), generate_api_key());
    assert_ne!(a, b);
    assert!(a.starts_with(KEY_PREFIX) && a.len() == 47);
    let h = hash_api_key(&a);
    assert_eq!(h.len(), 64);
    assert!(!h.contains(&a[4..]));
    assert_eq!(key_prefix(&a).len(), 10);
}

#[tokio::test]
async fn keys_mode_requires_a_known_key() {
    let key = generate_api_key();
    let svc = service(AuthMode::Keys, hash_api_key(&key)).await;
    assert_eq!(
        svc.authenticate(Some(&key), None).await.unwrap().name,
        "acme"
    );
    assert!(matches!(
        svc.authenticate(None, None).await,
        Err(ServiceError::Unauthorized(_))
    ));
    assert!(matches!(
        svc.authenticate(Some("   "), None).await,
        Err(ServiceError::Unauthorized(_))
    ));
    let wrong = svc.authenticate(Some("vsk_wrong"), None).await.unwrap_err();
    assert!(!wrong.to_string().contains("vsk_wrong"));
}

#[tokio::test]
async fn open_mode_maps_unknown_callers_to_the_default_tenant() {
    let key = generate_api_key();
    let svc = service(AuthMode::Open, hash_api_key(&key)).await;
    assert_eq!(svc.authenticate(None, None).await.unwrap().name, "default");
    assert_eq!(
        svc.authenticate(Some("sk-anything"), None)
            .await
            .unwrap()
            .name,
        "default"
    );
    assert_eq!(
        svc.authenticate(Some(&key), None).await.unwrap().name,
        "acme"
    );
}
