//! Key governance commands: enable/disable, aliases, rotation, scheduled deletion, key policy,
//! grants.

use arca_proto::v1 as pb;

use crate::cli::{
    AliasArgs, CreateGrantArgs, DeleteAliasArgs, EnableKeyRotationArgs, KeyIdArgs, ListAliasesArgs,
    ListRetirableGrantsArgs, PutKeyPolicyArgs, RetireGrantArgs, RevokeGrantArgs, ScheduleKeyDeletionArgs,
};
use crate::error::CliError;
use crate::input::{pairs_to_map, read_file};
use crate::output::{Record, Reply, Value};
use crate::session::Session;

pub(crate) async fn enable_key(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::EnableKeyRequest { key_id: args.key_id.clone() });
    session.call(session.kms().enable_key(request)).await?;
    Ok(Record::new().with("key_id", args.key_id).with("enabled", true))
}

pub(crate) async fn disable_key(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::DisableKeyRequest { key_id: args.key_id.clone() });
    session.call(session.kms().disable_key(request)).await?;
    Ok(Record::new().with("key_id", args.key_id).with("enabled", false))
}

fn alias(alias_name: String, target_key_id: String) -> Record {
    Record::new().with("alias_name", alias_name).with("target_key_id", target_key_id)
}

pub(crate) async fn create_alias(session: &Session, args: AliasArgs) -> Result<Record, CliError> {
    let AliasArgs { alias_name, target_key_id } = args;
    let request =
        pb::CreateAliasRequest { alias_name: alias_name.clone(), target_key_id: target_key_id.clone() };
    session.call(session.kms().create_alias(session.request(request))).await?;
    Ok(alias(alias_name, target_key_id))
}

pub(crate) async fn update_alias(session: &Session, args: AliasArgs) -> Result<Record, CliError> {
    let AliasArgs { alias_name, target_key_id } = args;
    let request =
        pb::UpdateAliasRequest { alias_name: alias_name.clone(), target_key_id: target_key_id.clone() };
    session.call(session.kms().update_alias(session.request(request))).await?;
    Ok(alias(alias_name, target_key_id))
}

pub(crate) async fn delete_alias(session: &Session, args: DeleteAliasArgs) -> Result<Record, CliError> {
    let request = session.request(pb::DeleteAliasRequest { alias_name: args.alias_name.clone() });
    session.call(session.kms().delete_alias(request)).await?;
    Ok(Record::new().with("alias_name", args.alias_name).with("deleted", true))
}

/// One page, or with --all every page from --page-token on, merged into one answer.
pub(crate) async fn list_aliases(session: &Session, args: ListAliasesArgs) -> Result<Record, CliError> {
    let key_id = args.key_id.unwrap_or_default();
    let mut token = args.page_token.unwrap_or_default();
    let mut aliases = Vec::new();
    loop {
        let request = pb::ListAliasesRequest {
            key_id: key_id.clone(),
            limit: args.limit.unwrap_or(0),
            page_token: token.clone(),
        };
        let page = session.call(session.kms().list_aliases(session.request(request))).await?;
        aliases.extend(page.aliases.into_iter().map(|a| Value::Object(alias(a.alias_name, a.target_key_id))));
        if !args.all || page.next_page_token.is_empty() {
            return Ok(Record::new()
                .with("aliases", Value::List(aliases))
                .with("next_page_token", page.next_page_token)
                .with("truncated", page.truncated));
        }
        if page.next_page_token == token {
            return Err(CliError::Input("the daemon returned the same page token twice".to_owned()));
        }
        token = page.next_page_token;
    }
}

pub(crate) async fn rotate_key(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::RotateKeyOnDemandRequest { key_id: args.key_id });
    let response = session.call(session.kms().rotate_key_on_demand(request)).await?;
    Ok(Record::new().with("key_id", response.key_id).with("key_version", response.key_version))
}

pub(crate) async fn enable_key_rotation(
    session: &Session,
    args: EnableKeyRotationArgs,
) -> Result<Record, CliError> {
    let request = pb::EnableKeyRotationRequest {
        key_id: args.key_id.clone(),
        rotation_period_in_days: args.period_days.unwrap_or(0),
    };
    session.call(session.kms().enable_key_rotation(session.request(request))).await?;
    Ok(Record::new().with("key_id", args.key_id).with("key_rotation_enabled", true))
}

pub(crate) async fn disable_key_rotation(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::DisableKeyRotationRequest { key_id: args.key_id.clone() });
    session.call(session.kms().disable_key_rotation(request)).await?;
    Ok(Record::new().with("key_id", args.key_id).with("key_rotation_enabled", false))
}

pub(crate) async fn get_key_rotation_status(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::GetKeyRotationStatusRequest { key_id: args.key_id });
    let response = session.call(session.kms().get_key_rotation_status(request)).await?;
    let next = if response.key_rotation_enabled {
        Value::Timestamp(response.next_rotation_date)
    } else {
        Value::Null
    };
    Ok(Record::new()
        .with("key_id", response.key_id)
        .with("key_rotation_enabled", response.key_rotation_enabled)
        .with("rotation_period_in_days", response.rotation_period_in_days)
        .with("next_rotation_date", next))
}

pub(crate) async fn list_key_rotations(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::ListKeyRotationsRequest { key_id: args.key_id });
    let response = session.call(session.kms().list_key_rotations(request)).await?;
    let rotations = response.rotations.into_iter().map(|r| {
        Value::Object(
            Record::new()
                .with("key_version", r.key_version)
                .with("rotation_date", Value::Timestamp(r.rotation_date)),
        )
    });
    Ok(Record::new().with("rotations", Value::List(rotations.collect())))
}

pub(crate) async fn schedule_key_deletion(
    session: &Session,
    args: ScheduleKeyDeletionArgs,
) -> Result<Record, CliError> {
    let request = pb::ScheduleKeyDeletionRequest {
        key_id: args.key_id,
        pending_window_in_days: args.pending_window_days.unwrap_or(0),
    };
    let response = session.call(session.kms().schedule_key_deletion(session.request(request))).await?;
    Ok(Record::new()
        .with("key_id", response.key_id)
        .with("deletion_date", Value::Timestamp(response.deletion_date)))
}

pub(crate) async fn cancel_key_deletion(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::CancelKeyDeletionRequest { key_id: args.key_id });
    let response = session.call(session.kms().cancel_key_deletion(request)).await?;
    Ok(Record::new().with("key_id", response.key_id).with("deletion_cancelled", true))
}

pub(crate) async fn put_key_policy(session: &Session, args: PutKeyPolicyArgs) -> Result<Record, CliError> {
    let policy = String::from_utf8(read_file(&args.policy_file)?)
        .map_err(|_| CliError::Input(format!("{} is not UTF-8 text", args.policy_file.display())))?;
    let request = pb::PutKeyPolicyRequest { key_id: args.key_id.clone(), policy };
    session.call(session.kms().put_key_policy(session.request(request))).await?;
    Ok(Record::new().with("key_id", args.key_id).with("policy_updated", true))
}

/// In table output the policy document itself, as the daemon holds it, ending in a newline.
pub(crate) async fn get_key_policy(session: &Session, args: KeyIdArgs) -> Result<Reply, CliError> {
    let request = session.request(pb::GetKeyPolicyRequest { key_id: args.key_id });
    let response = session.call(session.kms().get_key_policy(request)).await?;
    let mut text = response.policy.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let record = Record::new().with("key_id", response.key_id).with("policy", response.policy);
    Ok(Reply { table_text: Some(text), ..Reply::from(record) })
}

/// A grant as ListGrants returns it.
fn grant(grant: pb::GrantListEntry) -> Value {
    let constraints = grant.constraints.unwrap_or_default();
    Value::Object(
        Record::new()
            .with("key_id", grant.key_id)
            .with("grant_id", grant.grant_id)
            .with("name", grant.name)
            .with("grantee_principal", grant.grantee_principal)
            .with("retiring_principal", grant.retiring_principal)
            .with("operations", Value::List(grant.operations.into_iter().map(Value::from).collect()))
            .with(
                "constraints",
                Value::Object(
                    Record::new()
                        .with("encryption_context_subset", Value::map(&constraints.encryption_context_subset))
                        .with(
                            "encryption_context_equals",
                            Value::map(&constraints.encryption_context_equals),
                        ),
                ),
            )
            .with("issuing_principal", grant.issuing_principal)
            .with("creation_date", Value::Timestamp(grant.creation_date)),
    )
}

fn grants(response: pb::ListGrantsResponse) -> Record {
    Record::new().with("grants", Value::List(response.grants.into_iter().map(grant).collect()))
}

pub(crate) async fn create_grant(session: &Session, args: CreateGrantArgs) -> Result<Record, CliError> {
    let constraints = pb::GrantConstraints {
        encryption_context_subset: pairs_to_map(args.context_subset, "encryption context")?,
        encryption_context_equals: pairs_to_map(args.context_equals, "encryption context")?,
    };
    let request = pb::CreateGrantRequest {
        key_id: args.key_id,
        grantee_principal: args.grantee_principal,
        operations: args.operations.into_iter().map(|op| op.trim().to_owned()).collect(),
        retiring_principal: args.retiring_principal.unwrap_or_default(),
        constraints: Some(constraints),
        name: args.name.unwrap_or_default(),
        grant_tokens: Default::default(),
    };
    let response = session.call(session.kms().create_grant(session.request(request))).await?;
    Ok(Record::new().with("grant_id", response.grant_id).with("grant_token", response.grant_token))
}

pub(crate) async fn list_grants(session: &Session, args: KeyIdArgs) -> Result<Record, CliError> {
    let request = session.request(pb::ListGrantsRequest { key_id: args.key_id });
    Ok(grants(session.call(session.kms().list_grants(request)).await?))
}

pub(crate) async fn list_retirable_grants(
    session: &Session,
    args: ListRetirableGrantsArgs,
) -> Result<Record, CliError> {
    let request =
        session.request(pb::ListRetirableGrantsRequest { retiring_principal: args.retiring_principal });
    Ok(grants(session.call(session.kms().list_retirable_grants(request)).await?))
}

pub(crate) async fn retire_grant(session: &Session, args: RetireGrantArgs) -> Result<Record, CliError> {
    let request = session.request(pb::RetireGrantRequest {
        grant_id: args.grant_id.clone(),
        grant_tokens: Default::default(),
    });
    session.call(session.kms().retire_grant(request)).await?;
    Ok(Record::new().with("grant_id", args.grant_id).with("retired", true))
}

pub(crate) async fn revoke_grant(session: &Session, args: RevokeGrantArgs) -> Result<Record, CliError> {
    let RevokeGrantArgs { key_id, grant_id } = args;
    let request = pb::RevokeGrantRequest { key_id: key_id.clone(), grant_id: grant_id.clone() };
    session.call(session.kms().revoke_grant(session.request(request))).await?;
    Ok(Record::new().with("key_id", key_id).with("grant_id", grant_id).with("revoked", true))
}
