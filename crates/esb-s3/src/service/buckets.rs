//! Bucket lifecycle: create (name rules, region), delete (only when empty), head,
//! list, location.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::dto::{owner, timestamp};
use super::handle::EsbS3;

pub async fn create(
    s3: &EsbS3,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let i = req.input;
    super::names::check_bucket_name(&i.bucket)?;
    // A new bucket has ACLs disabled (BucketOwnerEnforced), as on S3 since 2023.
    super::ownership::check_write_acl(
        i.acl.as_ref().map(|a| a.as_str()),
        i.grant_full_control.is_some()
            || i.grant_read.is_some()
            || i.grant_read_acp.is_some()
            || i.grant_write.is_some()
            || i.grant_write_acp.is_some(),
    )?;
    if let Some(c) = i
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
    {
        let wanted = c.as_str();
        let here = s3.store.region();
        // us-east-1 is named by no constraint at all; any other region must be this box's.
        if wanted != here || here == "us-east-1" {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidLocationConstraint,
                "The specified location-constraint is not valid",
            ));
        }
    }
    match s3.store.create_bucket(i.bucket.clone()).await {
        Ok(()) => {}
        // S3 in us-east-1 answers a bucket its owner creates again with 200, for legacy
        // compatibility; every other region with 409 BucketAlreadyOwnedByYou.
        Err(crate::error::StoreError::BucketAlreadyOwnedByYou)
            if s3.store.region() == "us-east-1" => {}
        Err(e) => return Err(e.into()),
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", i.bucket)),
    }))
}

pub async fn delete(
    s3: &EsbS3,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    s3.store.delete_bucket(req.input.bucket).await?;
    Ok(S3Response::with_status(
        DeleteBucketOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn head(
    s3: &EsbS3,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    s3.store.bucket(req.input.bucket).await?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(s3.store.region().to_string()),
        ..HeadBucketOutput::default()
    }))
}

pub async fn list(
    s3: &EsbS3,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let prefix = req.input.prefix.clone().unwrap_or_default();
    let buckets = s3
        .store
        .buckets()
        .await?
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .map(|b| Bucket {
            name: Some(b.name),
            creation_date: Some(timestamp(b.created_ms)),
            bucket_region: Some(s3.store.region().to_string()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner()),
        prefix: req.input.prefix,
        ..ListBucketsOutput::default()
    }))
}

pub async fn location(
    s3: &EsbS3,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    s3.store.bucket(req.input.bucket).await?;
    let region = s3.store.region();
    // S3 reports us-east-1 as an empty constraint.
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: (region != "us-east-1")
            .then(|| BucketLocationConstraint::from(region.to_string())),
    }))
}
