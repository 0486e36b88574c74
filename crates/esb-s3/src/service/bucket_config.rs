//! A bucket's configuration documents: versioning, tags, CORS rules, notifications.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::handle::EsbS3;
use super::objects::tags_dto;
use crate::model::{CorsRule, Versioning};
use crate::notify::{LambdaTarget, is_known_event};
use crate::store::Document;

pub async fn get_versioning(
    s3: &EsbS3,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let b = s3.store.bucket(req.input.bucket).await?;
    Ok(S3Response::new(GetBucketVersioningOutput {
        status: (b.versioning != Versioning::Unversioned)
            .then(|| BucketVersioningStatus::from(b.versioning.as_str().to_string())),
        ..GetBucketVersioningOutput::default()
    }))
}

pub async fn put_versioning(
    s3: &EsbS3,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let i = req.input;
    let state = match i
        .versioning_configuration
        .status
        .as_ref()
        .map(|s| s.as_str())
    {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
    };
    s3.store.set_versioning(i.bucket, state).await?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

pub async fn get_tagging(
    s3: &EsbS3,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let b = s3.store.bucket(req.input.bucket).await?;
    let tags = b.tags.filter(|t| !t.is_empty()).ok_or_else(|| {
        S3Error::with_message(S3ErrorCode::NoSuchTagSet, "The TagSet does not exist")
    })?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tags_dto(&tags),
    }))
}

pub async fn put_tagging(
    s3: &EsbS3,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let i = req.input;
    let tags: Vec<(String, String)> = i
        .tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    // Buckets take up to 50 tags; the other rules are the objects'.
    if tags.len() > 50 {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidTag,
            "Bucket tag count cannot be greater than 50",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in &tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 || !seen.insert(k) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidTag,
                "The TagSet you have provided is invalid",
            ));
        }
    }
    s3.store
        .set_document(
            i.bucket,
            Document::Tags,
            Some(serde_json::to_value(tags).map_err(S3Error::internal_error)?),
        )
        .await?;
    Ok(S3Response::with_status(
        PutBucketTaggingOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn delete_tagging(
    s3: &EsbS3,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    s3.store
        .set_document(req.input.bucket, Document::Tags, None)
        .await?;
    Ok(S3Response::with_status(
        DeleteBucketTaggingOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_cors(
    s3: &EsbS3,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let b = s3.store.bucket(req.input.bucket).await?;
    let rules = b.cors.ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
        )
    })?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(
            rules
                .into_iter()
                .map(|r| CORSRule {
                    id: r.id,
                    allowed_origins: r.allowed_origins,
                    allowed_methods: r.allowed_methods,
                    allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
                    expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
                    max_age_seconds: r.max_age_seconds,
                })
                .collect(),
        ),
    }))
}

pub async fn put_cors(
    s3: &EsbS3,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let i = req.input;
    let rules = i.cors_configuration.cors_rules;
    if rules.is_empty() || rules.len() > 100 {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let mut out = Vec::new();
    for r in rules {
        for m in &r.allowed_methods {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    ),
                ));
            }
        }
        out.push(CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers.unwrap_or_default(),
            expose_headers: r.expose_headers.unwrap_or_default(),
            max_age_seconds: r.max_age_seconds,
        });
    }
    s3.store.set_cors(i.bucket, Some(out)).await?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

pub async fn delete_cors(
    s3: &EsbS3,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    s3.store.set_cors(req.input.bucket, None).await?;
    Ok(S3Response::with_status(
        DeleteBucketCorsOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_notification(
    s3: &EsbS3,
    req: S3Request<GetBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
    let b = match s3.store.bucket(req.input.bucket).await {
        Ok(b) => b,
        Err(crate::error::StoreError::NoSuchBucket) if s3.external => {
            return Ok(S3Response::new(
                GetBucketNotificationConfigurationOutput::default(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let configs: Vec<LambdaFunctionConfiguration> = b
        .notifications
        .into_iter()
        .map(|t| {
            let rules: Vec<FilterRule> = [("prefix", t.prefix), ("suffix", t.suffix)]
                .into_iter()
                .filter_map(|(n, v)| {
                    v.map(|v| FilterRule {
                        name: Some(FilterRuleName::from(n.to_string())),
                        value: Some(v),
                    })
                })
                .collect();
            LambdaFunctionConfiguration {
                id: t.id,
                lambda_function_arn: t.function_arn,
                events: t.events.into_iter().map(Event::from).collect(),
                filter: (!rules.is_empty()).then_some(NotificationConfigurationFilter {
                    key: Some(S3KeyFilter {
                        filter_rules: Some(rules),
                    }),
                }),
            }
        })
        .collect();
    Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
        lambda_function_configurations: (!configs.is_empty()).then_some(configs),
        ..GetBucketNotificationConfigurationOutput::default()
    }))
}

/// The Lambda targets of a notification configuration, validated as S3 does.
pub fn targets(config: NotificationConfiguration) -> S3Result<Vec<LambdaTarget>> {
    let invalid = |m: String| S3Error::with_message(S3ErrorCode::InvalidArgument, m);
    if config
        .queue_configurations
        .as_ref()
        .is_some_and(|q| !q.is_empty())
        || config
            .topic_configurations
            .as_ref()
            .is_some_and(|t| !t.is_empty())
    {
        return Err(invalid(
            "ESB delivers bucket notifications to Lambda functions only (no SQS or SNS destinations)".into(),
        ));
    }
    let mut out = Vec::new();
    for c in config.lambda_function_configurations.unwrap_or_default() {
        let mut t = LambdaTarget {
            id: c.id,
            function_arn: c.lambda_function_arn,
            events: Vec::new(),
            prefix: None,
            suffix: None,
        };
        for e in c.events {
            if !is_known_event(e.as_ref()) {
                return Err(invalid(format!(
                    "The event is not supported for notifications: {}",
                    e.as_ref()
                )));
            }
            t.events.push(e.as_ref().to_string());
        }
        for r in c
            .filter
            .and_then(|f| f.key)
            .and_then(|k| k.filter_rules)
            .unwrap_or_default()
        {
            let name = r
                .name
                .map(|n| n.as_str().to_ascii_lowercase())
                .unwrap_or_default();
            let slot = match name.as_ref() {
                "prefix" => &mut t.prefix,
                "suffix" => &mut t.suffix,
                _ => {
                    return Err(invalid(
                        "filter rule name must be either prefix or suffix".into(),
                    ));
                }
            };
            if slot.is_some() {
                return Err(invalid(
                    "Cannot specify more than one prefix rule in a filter.".into(),
                ));
            }
            *slot = r.value;
        }
        out.push(t);
    }
    Ok(out)
}

pub async fn put_notification(
    s3: &EsbS3,
    req: S3Request<PutBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
    let i = req.input;
    let targets = targets(i.notification_configuration)?;
    if let Some(exists) = s3.functions.get() {
        let unknown: Vec<&str> = targets
            .iter()
            .map(|t| t.function_arn.as_str())
            .filter(|arn| !exists(arn))
            .collect();
        if !unknown.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!(
                    "Unable to validate the following destination configurations: {}",
                    unknown.join(", ")
                ),
            ));
        }
    }
    if s3.external {
        // The engine has the bucket; the box keeps its notifications beside it.
        match s3.store.create_bucket(i.bucket.clone()).await {
            Ok(()) | Err(crate::error::StoreError::BucketAlreadyOwnedByYou) => {}
            Err(e) => return Err(e.into()),
        }
    }
    s3.store
        .set_document(
            i.bucket,
            Document::Notifications,
            Some(serde_json::to_value(targets).map_err(S3Error::internal_error)?),
        )
        .await?;
    Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
}
