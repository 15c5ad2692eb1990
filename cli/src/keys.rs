//! Key lifecycle commands: create-key, describe-key, list-keys (with filters).

use arca_proto::v1 as pb;

use crate::cli::{CreateKeyArgs, DescribeKeyArgs, ListKeysArgs};
use crate::error::CliError;
use crate::input::pairs_to_map;
use crate::output::{Record, Value};
use crate::progress::{rsa_generation, spin};
use crate::session::Session;

/// An enum field by its proto name, or its number when this build does not know it.
pub(crate) fn enum_name<E: TryFrom<i32>>(raw: i32, name: fn(&E) -> &'static str) -> Value {
    E::try_from(raw).map_or(Value::Int(raw.into()), |known| Value::Enum(name(&known)))
}

/// A repeated enum field by names.
pub(crate) fn enum_list<E: TryFrom<i32>>(raw: &[i32], name: fn(&E) -> &'static str) -> Value {
    Value::List(raw.iter().map(|value| enum_name(*value, name)).collect())
}

fn metadata(metadata: Option<pb::KeyMetadata>) -> Value {
    let Some(m) = metadata else { return Value::Null };
    let encryption = enum_list(&m.encryption_algorithms, pb::EncryptionAlgorithm::as_str_name);
    let signing = enum_list(&m.signing_algorithms, pb::SigningAlgorithm::as_str_name);
    let mac = enum_list(&m.mac_algorithms, pb::MacAlgorithm::as_str_name);
    Value::Object(
        Record::new()
            .with("key_id", m.key_id)
            .with("description", m.description)
            .with("key_spec", enum_name(m.key_spec, pb::KeySpec::as_str_name))
            .with("key_usage", enum_name(m.key_usage, pb::KeyUsage::as_str_name))
            .with("origin", enum_name(m.origin, pb::KeyOrigin::as_str_name))
            .with("key_state", enum_name(m.key_state, pb::KeyState::as_str_name))
            .with("creation_date", Value::Timestamp(m.creation_date))
            .with("current_version", m.current_version)
            .with("encryption_algorithms", encryption)
            .with("tags", Value::map(&m.tags))
            .with("signing_algorithms", signing)
            .with("mac_algorithms", mac),
    )
}

pub(crate) async fn create_key(session: &Session, args: CreateKeyArgs) -> Result<Record, CliError> {
    let label = rsa_generation(args.key_spec, 3072).filter(|_| args.origin == pb::KeyOrigin::Arca);
    let request = pb::CreateKeyRequest {
        description: args.description.unwrap_or_default(),
        key_spec: args.key_spec.into(),
        key_usage: args.key_usage.unwrap_or(pb::KeyUsage::Unspecified).into(),
        tags: pairs_to_map(args.tags, "tag")?,
        origin: args.origin.into(),
        ..Default::default()
    };
    let response = spin(label, session.call(session.kms().create_key(session.request(request)))).await?;
    Ok(Record::new().with("key_metadata", metadata(response.key_metadata)))
}

pub(crate) async fn describe_key(session: &Session, args: DescribeKeyArgs) -> Result<Record, CliError> {
    let request =
        session.request(pb::DescribeKeyRequest { key_id: args.key_id, grant_tokens: Default::default() });
    let response = session.call(session.kms().describe_key(request)).await?;
    Ok(Record::new().with("key_metadata", metadata(response.key_metadata)))
}

/// One page, or with --all every page from --page-token on, merged into one answer.
pub(crate) async fn list_keys(session: &Session, args: ListKeysArgs) -> Result<Record, CliError> {
    let mut token = args.page_token.unwrap_or_default();
    let mut keys = Vec::new();
    loop {
        let request = pb::ListKeysRequest {
            limit: args.limit.unwrap_or(0),
            page_token: token.clone(),
            key_spec: args.spec.map_or(0, Into::into),
            key_usage: args.usage.map_or(0, Into::into),
            key_state: args.state.map_or(0, Into::into),
            origin: args.origin.map_or(0, Into::into),
            tag: args.tag.clone(),
        };
        let page = session.call(session.kms().list_keys(session.request(request))).await?;
        keys.extend(
            page.keys.into_iter().map(|entry| Value::Object(Record::new().with("key_id", entry.key_id))),
        );
        if !args.all || page.next_page_token.is_empty() {
            return Ok(Record::new()
                .with("keys", Value::List(keys))
                .with("next_page_token", page.next_page_token)
                .with("truncated", page.truncated));
        }
        if page.next_page_token == token {
            return Err(CliError::Input("the daemon returned the same page token twice".to_owned()));
        }
        token = page.next_page_token;
    }
}
