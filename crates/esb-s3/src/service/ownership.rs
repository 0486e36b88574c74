//! Access control and the bucket settings ESB does not offer, answered as S3 answers
//! a new bucket today: object ownership `BucketOwnerEnforced` (ACLs disabled: every
//! object belongs to the bucket owner, the one account of the box), default SSE-S3
//! encryption, public access blocked, and no policy, lifecycle, website or object lock
//! configured. Writes that would need ACLs get `AccessControlListNotSupported`, as on S3.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::dto::owner;
use super::handle::EsbS3;

/// The canned ACLs a bucket with ACLs disabled still accepts.
fn acl_allowed(acl: &str) -> bool {
    matches!(acl, "private" | "bucket-owner-full-control")
}

fn not_supported() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::AccessControlListNotSupported,
        "The bucket does not allow ACLs",
    )
}

/// Checks a write's `x-amz-acl` and `x-amz-grant-*` headers.
pub fn check_write_acl(acl: Option<&str>, grants: bool) -> S3Result<()> {
    if grants || acl.is_some_and(|a| !acl_allowed(a)) {
        return Err(not_supported());
    }
    Ok(())
}

fn owner_full_control() -> Vec<Grant> {
    let o = owner();
    vec![Grant {
        grantee: Some(Grantee {
            display_name: o.display_name,
            id: o.id,
            type_: Type::from_static(Type::CANONICAL_USER),
            email_address: None,
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

pub async fn get_bucket_acl(
    s3: &EsbS3,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    s3.store.bucket(req.input.bucket).await?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(owner_full_control()),
        owner: Some(owner()),
    }))
}

pub async fn get_object_acl(
    s3: &EsbS3,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let i = req.input;
    s3.store.get_object(i.bucket, i.key, i.version_id).await?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(owner_full_control()),
        owner: Some(owner()),
        ..GetObjectAclOutput::default()
    }))
}

fn grants_given(
    full: Option<&String>,
    read: Option<&String>,
    read_acp: Option<&String>,
    write_acp: Option<&String>,
    policy: Option<&AccessControlPolicy>,
) -> bool {
    full.is_some()
        || read.is_some()
        || read_acp.is_some()
        || write_acp.is_some()
        || policy.is_some_and(|p| p.grants.as_ref().is_some_and(|g| g.len() > 1))
}

pub async fn put_bucket_acl(
    s3: &EsbS3,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let i = req.input;
    s3.store.bucket(i.bucket.clone()).await?;
    let grants = i.grant_write.is_some()
        || grants_given(
            i.grant_full_control.as_ref(),
            i.grant_read.as_ref(),
            i.grant_read_acp.as_ref(),
            i.grant_write_acp.as_ref(),
            i.access_control_policy.as_ref(),
        );
    check_write_acl(i.acl.as_ref().map(|a| a.as_str()), grants)?;
    Ok(S3Response::new(PutBucketAclOutput {}))
}

pub async fn put_object_acl(
    s3: &EsbS3,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let i = req.input;
    s3.store
        .get_object(i.bucket.clone(), i.key.clone(), i.version_id.clone())
        .await?;
    let grants = grants_given(
        i.grant_full_control.as_ref(),
        i.grant_read.as_ref(),
        i.grant_read_acp.as_ref(),
        i.grant_write_acp.as_ref(),
        i.access_control_policy.as_ref(),
    );
    check_write_acl(i.acl.as_ref().map(|a| a.as_str()), grants)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub async fn get_ownership_controls(
    s3: &EsbS3,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    s3.store.bucket(req.input.bucket).await?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(
                    ObjectOwnership::BUCKET_OWNER_ENFORCED,
                ),
            }],
        }),
    }))
}

pub async fn get_encryption(
    s3: &EsbS3,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    s3.store.bucket(req.input.bucket).await?;
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
                    kms_master_key_id: None,
                }),
                bucket_key_enabled: Some(false),
            }],
        }),
    }))
}

pub async fn get_public_access_block(
    s3: &EsbS3,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    s3.store.bucket(req.input.bucket).await?;
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(true),
            block_public_policy: Some(true),
            ignore_public_acls: Some(true),
            restrict_public_buckets: Some(true),
        }),
    }))
}

/// A bucket setting ESB has none of: the bucket must exist, then S3's "not configured".
pub async fn none_configured(
    s3: &EsbS3,
    bucket: String,
    code: S3ErrorCode,
    message: &'static str,
) -> S3Error {
    match s3.store.bucket(bucket).await {
        Ok(_) => S3Error::with_message(code, message),
        Err(e) => e.into(),
    }
}
