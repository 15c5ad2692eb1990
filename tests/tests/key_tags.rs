//! A key's tags and description after CreateKey: TagResource overwrites and adds, UntagResource
//! removes (an absent tag key is no error), ListResourceTags pages, UpdateKeyDescription shows in
//! DescribeKey; KMS's rules refuse what breaks them, a key pending deletion keeps what it has,
//! every change survives a restart, and each call is its own policy action.

use std::collections::HashMap;

use arca_tests::{Launch, assert_status, context, create_key, pb};
use tonic::Code;
use tonic::transport::Channel;

type Kms = pb::key_management_client::KeyManagementClient<Channel>;

fn tag(kms_key: &str, pairs: &[(&str, &str)]) -> pb::TagResourceRequest {
    pb::TagResourceRequest { key_id: kms_key.into(), tags: context(pairs) }
}

fn untag(kms_key: &str, keys: &[&str]) -> pb::UntagResourceRequest {
    pb::UntagResourceRequest {
        key_id: kms_key.into(),
        tag_keys: keys.iter().map(|k| k.to_string()).collect(),
    }
}

/// Every tag of the key, page by page of `limit`, and the number of pages.
async fn list_all(kms: &mut Kms, key: &str, limit: u32) -> (Vec<(String, String)>, usize) {
    let (mut tags, mut marker, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let request = pb::ListResourceTagsRequest { key_id: key.into(), limit, marker: marker.clone() };
        let page = kms.list_resource_tags(request).await.unwrap().into_inner();
        pages += 1;
        assert!(
            limit == 0 || page.tags.len() <= limit as usize,
            "{} tags on a page of {limit}",
            page.tags.len()
        );
        tags.extend(page.tags.into_iter().map(|t| (t.tag_key, t.tag_value)));
        if !page.truncated {
            assert!(page.next_marker.is_empty());
            return (tags, pages);
        }
        marker = page.next_marker;
    }
}

async fn described_tags(kms: &mut Kms, key: &str) -> HashMap<String, String> {
    let request = pb::DescribeKeyRequest { key_id: key.into(), ..Default::default() };
    kms.describe_key(request).await.unwrap().into_inner().key_metadata.unwrap().tags
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn tags_are_overwritten_added_removed_and_listed_in_pages_durably() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let created = pb::CreateKeyRequest { tags: context(&[("team", "payments")]), ..Default::default() };
    let key = kms.create_key(created).await.unwrap().into_inner().key_metadata.unwrap().key_id;

    kms.tag_resource(tag(&key, &[("team", "core"), ("env", "prod"), ("empty", "")])).await.unwrap();
    let expected = pairs(&[("empty", ""), ("env", "prod"), ("team", "core")]);
    assert_eq!(list_all(&mut kms, &key, 0).await.0, expected, "team overwritten, env and empty added");
    assert_eq!(described_tags(&mut kms, &key).await, expected.iter().cloned().collect());

    kms.untag_resource(untag(&key, &["env", "never-set"])).await.unwrap();
    assert_eq!(list_all(&mut kms, &key, 0).await.0, pairs(&[("empty", ""), ("team", "core")]));

    let many: Vec<(String, String)> = (0..48).map(|n| (format!("t{n:02}"), format!("v{n}"))).collect();
    let request = pb::TagResourceRequest { key_id: key.clone(), tags: many.iter().cloned().collect() };
    kms.tag_resource(request).await.unwrap();
    let (all, pages) = list_all(&mut kms, &key, 20).await;
    assert_eq!((all.len(), pages), (50, 3), "50 tags in pages of 20");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "pages come in tag-key order, each tag once");
    assert_eq!(list_all(&mut kms, &key, 50).await, (all.clone(), 1));

    assert_status(
        kms.tag_resource(tag(&key, &[("one-more", "x")])).await,
        Code::InvalidArgument,
        "at most 50",
    );
    kms.tag_resource(tag(&key, &[("team", "overwriting keeps 50")])).await.unwrap();
    let over = pb::ListResourceTagsRequest { key_id: key.clone(), limit: 51, ..Default::default() };
    assert_status(kms.list_resource_tags(over).await, Code::InvalidArgument, "1 to 50");

    daemon.shutdown().await;
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let (after, _) = list_all(&mut kms, &key, 0).await;
    assert_eq!(after.len(), 50, "the tags survive a restart");
    assert!(after.contains(&("team".to_string(), "overwriting keeps 50".to_string())));
    daemon.shutdown().await;
}

#[tokio::test]
async fn tags_that_break_the_kms_rules_are_refused_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "rules").await;
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for (pairs, needle) in [
        (vec![("aws:owner", "x")], "reserved"),
        (vec![("AWS:owner", "x")], "reserved"),
        (vec![("", "x")], "1 to 128"),
        (vec![(long_key.as_str(), "x")], "1 to 128"),
        (vec![("team", long_value.as_str())], "256"),
        (vec![("team", "bell\u{7}")], "control character"),
    ] {
        assert_status(kms.tag_resource(tag(&key, &pairs)).await, Code::InvalidArgument, needle);
    }
    kms.tag_resource(tag(&key, &[(&"k".repeat(128), &"v".repeat(256))])).await.unwrap();
    assert_status(kms.untag_resource(untag(&key, &[])).await, Code::InvalidArgument, "tag_keys");
    assert_status(kms.untag_resource(untag(&key, &["aws:x"])).await, Code::InvalidArgument, "reserved");
    let absent = "00000000-0000-4000-8000-000000000000";
    assert_status(kms.tag_resource(tag(absent, &[("a", "b")])).await, Code::NotFound, absent);
    assert_eq!(list_all(&mut kms, &key, 0).await.0.len(), 1, "only the valid tag was stored");
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_key_pending_deletion_keeps_its_tags_and_description() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "going").await;
    kms.disable_key(pb::DisableKeyRequest { key_id: key.clone() }).await.unwrap();
    kms.tag_resource(tag(&key, &[("state", "disabled")])).await.unwrap();
    let description = pb::UpdateKeyDescriptionRequest { key_id: key.clone(), description: "disabled".into() };
    kms.update_key_description(description).await.unwrap();

    let schedule = pb::ScheduleKeyDeletionRequest { key_id: key.clone(), pending_window_in_days: 7 };
    kms.schedule_key_deletion(schedule).await.unwrap();
    assert_status(
        kms.tag_resource(tag(&key, &[("a", "b")])).await,
        Code::FailedPrecondition,
        "PENDING_DELETION",
    );
    assert_status(
        kms.untag_resource(untag(&key, &["state"])).await,
        Code::FailedPrecondition,
        "PENDING_DELETION",
    );
    let list = pb::ListResourceTagsRequest { key_id: key.clone(), ..Default::default() };
    assert_status(kms.list_resource_tags(list).await, Code::FailedPrecondition, "PENDING_DELETION");
    let description = pb::UpdateKeyDescriptionRequest { key_id: key.clone(), description: "late".into() };
    assert_status(
        kms.update_key_description(description).await,
        Code::FailedPrecondition,
        "PENDING_DELETION",
    );

    kms.cancel_key_deletion(pb::CancelKeyDeletionRequest { key_id: key.clone() }).await.unwrap();
    assert_eq!(list_all(&mut kms, &key, 0).await.0, pairs(&[("state", "disabled")]));
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_description_changes_within_its_limit_and_shows_in_describe_key() {
    let dir = tempfile::tempdir().unwrap();
    let launch = Launch::dev(dir.path());
    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "before").await;
    let update = |description: String| pb::UpdateKeyDescriptionRequest { key_id: key.clone(), description };
    kms.update_key_description(update("after — ✓".into())).await.unwrap();
    assert_status(kms.update_key_description(update("d".repeat(8193))).await, Code::InvalidArgument, "8192");
    assert_status(
        kms.update_key_description(update("line\nbreak".into())).await,
        Code::InvalidArgument,
        "description",
    );
    daemon.shutdown().await;

    let daemon = launch.start();
    let mut kms = daemon.kms().await;
    let request = pb::DescribeKeyRequest { key_id: key.clone(), ..Default::default() };
    let described = kms.describe_key(request).await.unwrap().into_inner().key_metadata.unwrap();
    assert_eq!(described.description, "after — ✓", "the new description survives a restart");
    kms.update_key_description(update("d".repeat(8192))).await.unwrap();
    kms.update_key_description(update(String::new())).await.unwrap();
    daemon.shutdown().await;
}

#[tokio::test]
async fn each_tag_and_description_call_is_its_own_policy_action() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Launch::dev(dir.path()).start();
    let mut kms = daemon.kms().await;
    let key = create_key(&mut kms, "policed").await;
    let status = daemon.admin().await.status(pb::StatusRequest {}).await.unwrap().into_inner();
    let denied = |action: &str| {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Arca": status.caller}, "Action": "arca:*", "Resource": "*"},
                {"Effect": "Deny", "Principal": {"Arca": status.caller}, "Action": action, "Resource": "*"}
            ]
        })
        .to_string()
    };
    let calls =
        ["arca:TagResource", "arca:UntagResource", "arca:ListResourceTags", "arca:UpdateKeyDescription"];
    for action in calls {
        let put = pb::PutKeyPolicyRequest { key_id: key.clone(), policy: denied(action) };
        kms.put_key_policy(put).await.unwrap();
        let outcomes = [
            kms.tag_resource(tag(&key, &[("a", "b")])).await.map(|_| ()),
            kms.untag_resource(untag(&key, &["a"])).await.map(|_| ()),
            kms.list_resource_tags(pb::ListResourceTagsRequest { key_id: key.clone(), ..Default::default() })
                .await
                .map(|_| ()),
            kms.update_key_description(pb::UpdateKeyDescriptionRequest {
                key_id: key.clone(),
                description: "x".into(),
            })
            .await
            .map(|_| ()),
        ];
        for (call, outcome) in calls.iter().zip(outcomes) {
            if *call == action {
                assert_status(outcome, Code::PermissionDenied, action);
            } else {
                assert!(outcome.is_ok(), "{call} refused under a policy denying {action}: {outcome:?}");
            }
        }
    }
    daemon.shutdown().await;
}
