//! `/api/users/public_keys/*` and `/api/users/refresh_ssh_key`: keys are the caller's own,
//! fingerprinted as `ssh-keygen -l` prints them; SSH keypairs are refreshed by their owner or
//! an admin.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_TOKEN, TestServer, business_error};

const LIST: &str = "/api/users/public_keys/list";
const ADD: &str = "/api/users/public_keys/add";
const DELETE: &str = "/api/users/public_keys/delete";
const REFRESH: &str = "/api/users/refresh_ssh_key";

/// Keys made with `ssh-keygen -t <type> -C me@<type>`, and the fingerprints `ssh-keygen -l`
/// printed for them.
const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIERANTUP5O1OcR7a17KcVslLjOoJc8ldNDtdS5rwUZ5K me@ed25519";
const ED25519_FINGERPRINT: &str = "SHA256:w+n0MUNE9AkdpNFQVRC8mC0pg+ntU/Ey4EgHRKqB90U";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBL4u2flwou49VADTz7igslglbsGOUs5H+up+nc2ooMfTKOPs1rJW4Hq/DnbT/2G62eTBcj+RZvKYL9l35de08wE= me@ecdsa";
const ECDSA_FINGERPRINT: &str = "SHA256:qjW/yeiSyhaXqA8Bpy/V/xddhW2aR2nVya2wGLPvPAo";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDQ/yEORSbvuVpyHSPAGa0jxTgbeIVaxVPq/neLAJOnioP9++uYvjea2DxAKYCvRfKFBn2xTiYgPti1PPBuaNexnGB07gTmAxYWaLw5Iz5tStZiLKlyZnt6gQzxoIg1oQSN2LJdWNH4WjCiQG8DubodHD5EPVrKRT1Jo0+V5iXGzw== me@rsa";
const RSA_FINGERPRINT: &str = "SHA256:J4qZTMraQV7+mCc9jd8YYAP6Bh17kcsi3mPhec1CsXs";
/// A well-formed DSA key blob (tiny numbers); dstack refuses DSA.
const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAAABBQAAAAEDAAAAAQIAAAABBw== old@dsa";

async fn list(server: &TestServer, token: &str) -> Vec<Value> {
    let reply = server.post_empty(LIST, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().expect("a list").clone()
}

async fn keys_are_added_listed_and_deleted(server: &TestServer) {
    let alice = server.create_user("alice").await;
    let added = server
        .ok(ADD, &alice, json!({"key": ED25519, "name": null}))
        .await;
    assert_eq!(added["name"], "me@ed25519", "named by the comment");
    assert_eq!(added["type"], "ssh-ed25519");
    assert_eq!(added["fingerprint"], ED25519_FINGERPRINT);
    let ecdsa = server
        .ok(ADD, &alice, json!({"key": ECDSA, "name": "laptop"}))
        .await;
    assert_eq!(ecdsa["name"], "laptop");
    assert_eq!(ecdsa["type"], "ecdsa-sha2-nistp256");
    assert_eq!(ecdsa["fingerprint"], ECDSA_FINGERPRINT);
    let without_comment = RSA.rsplit_once(' ').expect("comment").0;
    let rsa = server
        .ok(ADD, &alice, json!({"key": format!("{without_comment}\n")}))
        .await;
    assert_eq!(rsa["fingerprint"], RSA_FINGERPRINT);
    assert_eq!(
        rsa["name"], RSA_FINGERPRINT,
        "no name, no comment: the fingerprint"
    );

    let names: Vec<Value> = list(server, &alice)
        .await
        .iter()
        .map(|key| key["name"].clone())
        .collect();
    assert_eq!(
        names,
        [rsa["name"].clone(), json!("laptop"), json!("me@ed25519")]
    );
    assert!(
        list(server, ADMIN_TOKEN).await.is_empty(),
        "keys are per user"
    );

    // Another user's id deletes nothing; unknown ids are ignored.
    let deleted = server
        .ok(DELETE, ADMIN_TOKEN, json!({"ids": [added["id"]]}))
        .await;
    assert_eq!(deleted, Value::Null);
    assert_eq!(list(server, &alice).await.len(), 3);
    server
        .ok(
            DELETE,
            &alice,
            json!({"ids": [added["id"], ecdsa["id"], uuid::Uuid::new_v4()]}),
        )
        .await;
    let left = list(server, &alice).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], rsa["id"]);

    let events = server
        .ok(
            "/api/events/list",
            &alice,
            json!({"ascending": true, "include_target_types": ["user"]}),
        )
        .await;
    let messages: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["message"].as_str())
        .filter(|message| message.starts_with("Public key"))
        .collect();
    assert_eq!(
        messages,
        [
            format!("Public key added ({ED25519_FINGERPRINT})"),
            format!("Public key added ({ECDSA_FINGERPRINT})"),
            format!("Public key added ({RSA_FINGERPRINT})"),
            format!("Public key deleted ({ED25519_FINGERPRINT})"),
            format!("Public key deleted ({ECDSA_FINGERPRINT})"),
        ]
    );
}

async fn duplicates_and_bad_keys_are_refused(server: &TestServer) {
    server.ok(ADD, ADMIN_TOKEN, json!({"key": ED25519})).await;
    let renamed = ED25519.replace("me@ed25519", "another comment");
    let again = server
        .post(ADD, ADMIN_TOKEN, json!({"key": renamed, "name": "other"}))
        .await;
    business_error("resource_exists", &again);
    let bob = server.create_user("bob").await;
    server.ok(ADD, &bob, json!({"key": ED25519})).await;

    let unsupported = server.post(ADD, ADMIN_TOKEN, json!({"key": DSA})).await;
    business_error("error", &unsupported);
    assert_eq!(
        unsupported.body["detail"][0]["msg"],
        "Unsupported key type: ssh-dss"
    );
    let truncated = &ED25519[..60];
    let bad_base64 = ED25519.replace("AAAAC3", "!!!!C3");
    let wrong_type = ED25519.replace("ssh-ed25519 ", "ssh-rsa ");
    for key in [
        "",
        "hello",
        truncated,
        &bad_base64,
        &wrong_type,
        "ssh-ed25519",
    ] {
        let reply = server.post(ADD, ADMIN_TOKEN, json!({"key": key})).await;
        business_error("error", &reply);
        let msg = reply.body["detail"][0]["msg"].as_str().expect("msg");
        assert!(msg.starts_with("Invalid public key"), "{key:?}: {msg}");
    }
    assert_eq!(list(server, ADMIN_TOKEN).await.len(), 1);
    let missing = server.post(ADD, ADMIN_TOKEN, json!({"name": "x"})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unauthenticated = server.send(LIST, None, Some("0.22.5"), None).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}

async fn ssh_keys_are_refreshed_by_their_owner_or_an_admin(server: &TestServer) {
    let alice = server.create_user("alice").await;
    server.create_user("bob").await;
    let before = server
        .ok("/api/users/get_my_user", &alice, Value::Null)
        .await;
    let mine = server
        .ok(REFRESH, &alice, json!({"username": "alice"}))
        .await;
    assert_eq!(mine["creds"]["token"], alice.as_str(), "own token shown");
    assert_ne!(mine["ssh_public_key"], before["ssh_public_key"]);
    assert_ne!(mine["ssh_private_key"], before["ssh_private_key"]);
    let public = mine["ssh_public_key"].as_str().expect("public key");
    assert!(public.starts_with("ssh-"), "{public}");
    let after = server
        .ok("/api/users/get_my_user", &alice, Value::Null)
        .await;
    assert_eq!(after["ssh_private_key"], mine["ssh_private_key"], "stored");

    let others = server
        .post(REFRESH, &alice, json!({"username": "bob"}))
        .await;
    assert_eq!(others.status, StatusCode::FORBIDDEN, "{}", others.body);
    let nobody = server
        .post(REFRESH, &alice, json!({"username": "nobody"}))
        .await;
    assert_eq!(nobody.status, StatusCode::FORBIDDEN, "{}", nobody.body);

    let by_admin = server
        .ok(REFRESH, ADMIN_TOKEN, json!({"username": "alice"}))
        .await;
    assert_ne!(by_admin["ssh_private_key"], mine["ssh_private_key"]);
    assert_eq!(by_admin["creds"]["token"], "", "the token is not known");
    let missing = server
        .post(REFRESH, ADMIN_TOKEN, json!({"username": "nobody"}))
        .await;
    business_error("resource_not_exists", &missing);
}

crate::engine_tests!(
    keys_are_added_listed_and_deleted,
    duplicates_and_bad_keys_are_refused,
    ssh_keys_are_refreshed_by_their_owner_or_an_admin,
);
