//! `AWS::S3::Bucket` resources turned into [`BucketSpec`]s: the name (what `Ref` gives,
//! see `resource_refs`), versioning, CORS rules, tags and the functions S3 invokes on
//! object events. Each is checked the way S3 checks it when CloudFormation creates the
//! bucket. Other properties (encryption, lifecycle, access blocks...) are warned about:
//! a local bucket has no use for them.

use crate::arn::name_in_arn;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::{BucketCorsRule, BucketSpec, LambdaNotification};
use crate::props::{fields, list, required, tag_list, text};
use crate::resources::Resource;
use crate::s3_event::S3Event;
use crate::s3_notification;
use crate::spot::Spot;
use crate::value::Value;

/// Properties ESB acts on.
const ACTED_ON: [&str; 5] = [
    "BucketName",
    "VersioningConfiguration",
    "CorsConfiguration",
    "Tags",
    "NotificationConfiguration",
];
/// S3's limit on CORS rules per bucket.
const MAX_CORS_RULES: usize = 100;
const CORS_METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];
const CORS_HINT: &str = "CorsConfiguration: {CorsRules: [{AllowedOrigins: [https://app.example], AllowedMethods: [GET, PUT], AllowedHeaders: ['*'], MaxAge: 3000}]}";
const LAMBDA_HINT: &str = "LambdaConfigurations: [{Event: s3:ObjectCreated:*, Function: !GetAtt MyFunction.Arn, Filter: {S3Key: {Rules: [{Name: prefix, Value: uploads/}]}}}]";

/// A bucket and where each of its notifications is written, for the checks made once
/// the functions' `S3` events are added.
#[derive(Debug)]
pub struct LoadedBucket<'n> {
    pub spec: BucketSpec,
    /// Where the name is written (the resource when it is generated).
    pub name_spot: Spot<'n>,
    /// One per `spec.lambda_notifications`.
    pub notification_spots: Vec<Spot<'n>>,
}

pub fn read<'n>(r: &Resolver<'_>, res: &Resource<'n>) -> Result<LoadedBucket<'n>, TemplateError> {
    let base = format!("{}.Properties", res.path());
    for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
        if !ACTED_ON.contains(&e.key.as_str()) {
            r.warn_once(
                &format!("bucket property {}", e.key),
                e.key_pos,
                &format!("{base}.{}", e.key),
                "is not acted on by ESB; ignored".into(),
            );
        }
    }
    let name = r.bucket_name(res)?;
    let name_spot = match res.property("BucketName") {
        Some((e, path)) => Spot::of(e, path),
        None => Spot::bare(res.key_pos, res.path()),
    };
    let property = |key: &str| -> Result<Option<(Value, Spot<'n>)>, TemplateError> {
        let Some((e, path)) = res.property(key) else {
            return Ok(None);
        };
        Ok(r.resolve(&e.value, &path)?
            .map(|v| (v, Spot::of(e, path.clone()))))
    };
    let versioning = match property("VersioningConfiguration")? {
        Some((v, spot)) => Some(versioning(r, &v, &spot)?),
        None => None,
    };
    let cors_rules = match property("CorsConfiguration")? {
        Some((v, spot)) => cors_rules(r, &v, &spot)?,
        None => Vec::new(),
    };
    let tags = match property("Tags")? {
        Some((v, spot)) => tag_list(r, &v, &spot, "S3")?,
        None => Vec::new(),
    };
    let (lambda_notifications, notification_spots) = match property("NotificationConfiguration")? {
        Some((v, spot)) => notifications(r, &v, &spot)?,
        None => (Vec::new(), Vec::new()),
    };
    Ok(LoadedBucket {
        spec: BucketSpec {
            logical_id: res.id.to_string(),
            name,
            versioning,
            cors_rules,
            tags,
            lambda_notifications,
        },
        name_spot,
        notification_spots,
    })
}

/// `VersioningConfiguration: {Status: Enabled | Suspended}`.
fn versioning(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<String, TemplateError> {
    const HINT: &str = "VersioningConfiguration: {Status: Enabled} (or Suspended)";
    fields(r, v, spot, &["Status"], HINT)?;
    let status_spot = spot.key("Status");
    let status = text(r, required(r, v, "Status", spot, HINT)?, &status_spot, HINT)?;
    if !["Enabled", "Suspended"].contains(&status.as_str()) {
        return Err(r.error(
            status_spot.at,
            &status_spot.path,
            ErrorKind::InvalidValue(format!("{status:?} is not Enabled or Suspended")),
            HINT,
        ));
    }
    Ok(status)
}

/// `CorsConfiguration: {CorsRules: [...]}`.
fn cors_rules(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<Vec<BucketCorsRule>, TemplateError> {
    fields(r, v, spot, &["CorsRules"], CORS_HINT)?;
    let rules_spot = spot.key("CorsRules");
    let Value::List(rules) = required(r, v, "CorsRules", spot, CORS_HINT)? else {
        return Err(r.error(
            rules_spot.at,
            &rules_spot.path,
            ErrorKind::InvalidValue("must be a list of rules".into()),
            CORS_HINT,
        ));
    };
    if rules.len() > MAX_CORS_RULES {
        return Err(r.error(
            rules_spot.at,
            &rules_spot.path,
            ErrorKind::InvalidValue(format!("{} rules; S3 allows {MAX_CORS_RULES}", rules.len())),
            "merge rules that allow the same origins",
        ));
    }
    let mut out = Vec::with_capacity(rules.len());
    for (i, rule) in rules.iter().enumerate() {
        let at = rules_spot.index(i);
        let entries = fields(
            r,
            rule,
            &at,
            &[
                "Id",
                "AllowedOrigins",
                "AllowedMethods",
                "AllowedHeaders",
                "ExposedHeaders",
                "MaxAge",
            ],
            CORS_HINT,
        )?;
        let mut c = BucketCorsRule {
            id: None,
            allowed_origins: Vec::new(),
            allowed_methods: Vec::new(),
            allowed_headers: Vec::new(),
            exposed_headers: Vec::new(),
            max_age_s: None,
        };
        for (key, value) in entries {
            let field = at.key(key);
            match key.as_str() {
                "Id" => c.id = Some(text(r, value, &field, CORS_HINT)?),
                "AllowedOrigins" => c.allowed_origins = list(r, value, &field, CORS_HINT)?,
                "AllowedMethods" => {
                    c.allowed_methods = list(r, value, &field, CORS_HINT)?;
                    if let Some(m) = c
                        .allowed_methods
                        .iter()
                        .find(|m| !CORS_METHODS.contains(&m.as_str()))
                    {
                        return Err(r.error(
                            field.at,
                            &field.path,
                            ErrorKind::InvalidValue(format!("{m:?} is not a CORS method of S3")),
                            format!("use {} (upper case)", CORS_METHODS.join(", ")),
                        ));
                    }
                }
                "AllowedHeaders" => c.allowed_headers = list(r, value, &field, CORS_HINT)?,
                "ExposedHeaders" => c.exposed_headers = list(r, value, &field, CORS_HINT)?,
                _ => {
                    let n = value.as_text().and_then(|t| t.parse::<i32>().ok());
                    c.max_age_s = Some(n.filter(|n| *n >= 0).ok_or_else(|| {
                        r.error(
                            field.at,
                            &field.path,
                            ErrorKind::InvalidValue(
                                "MaxAge must be a whole number of seconds, 0 or more".into(),
                            ),
                            CORS_HINT,
                        )
                    })?);
                }
            }
        }
        for (key, values) in [
            ("AllowedOrigins", &c.allowed_origins),
            ("AllowedMethods", &c.allowed_methods),
        ] {
            if values.is_empty() {
                return Err(r.error(
                    at.at,
                    &at.path,
                    ErrorKind::MissingProperty(key.into()),
                    CORS_HINT,
                ));
            }
        }
        for (key, values) in [
            ("AllowedOrigins", &c.allowed_origins),
            ("AllowedHeaders", &c.allowed_headers),
        ] {
            if let Some(bad) = values.iter().find(|v| v.matches('*').count() > 1) {
                let field = at.key(key);
                return Err(r.error(
                    field.at,
                    &field.path,
                    ErrorKind::InvalidValue(format!("{bad:?} has more than one * wildcard")),
                    "S3 allows one * in each origin and header, e.g. https://*.example.com",
                ));
            }
        }
        out.push(c);
    }
    Ok(out)
}

/// `NotificationConfiguration`: its `LambdaConfigurations`; queue, topic and
/// EventBridge destinations are warned about (ESB has none to deliver to).
fn notifications<'n>(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'n>,
) -> Result<(Vec<LambdaNotification>, Vec<Spot<'n>>), TemplateError> {
    let entries = fields(
        r,
        v,
        spot,
        &[
            "LambdaConfigurations",
            "QueueConfigurations",
            "TopicConfigurations",
            "EventBridgeConfiguration",
        ],
        LAMBDA_HINT,
    )?;
    let mut out = Vec::new();
    let mut spots = Vec::new();
    for (key, value) in entries {
        let at = spot.key(key);
        if key != "LambdaConfigurations" {
            r.warn_once(
                &format!("bucket notification {key}"),
                at.at,
                &at.path,
                "is not acted on by ESB (it delivers S3 events to functions only); ignored".into(),
            );
            continue;
        }
        let Value::List(items) = value else {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::Structure(format!("must be a list, not {}", value.shape())),
                LAMBDA_HINT,
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let item_spot = at.index(i);
            fields(
                r,
                item,
                &item_spot,
                &["Event", "Function", "Filter"],
                LAMBDA_HINT,
            )?;
            let event_spot = item_spot.key("Event");
            let event = required(r, item, "Event", &item_spot, LAMBDA_HINT)?;
            if let Value::List(_) = event {
                return Err(r.error(
                    event_spot.at,
                    &event_spot.path,
                    ErrorKind::InvalidValue("Event is one event type, not a list".into()),
                    "add one LambdaConfiguration per event type",
                ));
            }
            let events = s3_notification::event_types(r, event, &event_spot)?;
            let function = required(r, item, "Function", &item_spot, LAMBDA_HINT)?;
            let function_arn = text(r, function, &item_spot.key("Function"), LAMBDA_HINT)?;
            let (prefix, suffix) = match item.get("Filter") {
                Some(f) => s3_notification::key_filter(r, f, &item_spot.key("Filter"))?,
                None => (None, None),
            };
            out.push(LambdaNotification {
                id: None,
                function_arn,
                events,
                prefix,
                suffix,
            });
            spots.push(item_spot);
        }
    }
    Ok((out, spots))
}

/// Completes the buckets once the functions are built: appends each function's S3
/// events to its bucket (as SAM does), then checks what S3 checks across a bucket's
/// notifications and across buckets. `function_names` are the template's functions.
pub fn finish(
    r: &Resolver<'_>,
    mut buckets: Vec<LoadedBucket<'_>>,
    s3_events: Vec<&S3Event>,
    function_names: &[String],
) -> Result<Vec<BucketSpec>, TemplateError> {
    for e in s3_events {
        // s3_event made sure the bucket exists.
        if let Some(b) = buckets
            .iter_mut()
            .find(|b| b.spec.logical_id == e.bucket_id)
        {
            b.spec.lambda_notifications.push(e.notification.clone());
            b.notification_spots.push(Spot::bare(e.at, e.path.clone()));
        }
    }
    for (i, b) in buckets.iter().enumerate() {
        if let Some(other) = buckets[..i].iter().find(|o| o.spec.name == b.spec.name) {
            return Err(r.error(
                b.name_spot.at,
                &b.name_spot.path,
                ErrorKind::DuplicateBucketName {
                    name: b.spec.name.clone(),
                    other: other.spec.logical_id.clone(),
                },
                "give each bucket its own BucketName",
            ));
        }
        s3_notification::check_overlaps(r, &b.spec.lambda_notifications, &b.notification_spots)?;
        for (n, spot) in b
            .spec
            .lambda_notifications
            .iter()
            .zip(&b.notification_spots)
        {
            if !function_names.contains(&name_in_arn(&n.function_arn)) {
                r.warn_once(
                    &format!("notification target {}", n.function_arn),
                    spot.at,
                    &spot.path,
                    format!(
                        "{} is not a function of this template; ESB cannot deliver these events",
                        n.function_arn
                    ),
                );
            }
        }
    }
    Ok(buckets.into_iter().map(|b| b.spec).collect())
}

#[cfg(test)]
mod tests {
    use crate::model::{BucketCorsRule, BucketSpec, LambdaNotification, Template};
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    fn load(function_props: &str, resources: &str) -> Result<Template, TemplateError> {
        load_with_function(function_props, resources, &LoadOptions::default())
    }

    fn error(function_props: &str, resources: &str) -> String {
        load(function_props, resources)
            .expect_err(resources)
            .to_string()
    }

    fn bucket<'t>(t: &'t Template, id: &str) -> &'t BucketSpec {
        t.buckets
            .iter()
            .find(|b| b.logical_id == id)
            .unwrap_or_else(|| panic!("no bucket {id}: {:?}", t.buckets))
    }

    #[test]
    fn default_names_are_stable_valid_and_short_enough() {
        let t = load("", "  Uploads:\n    Type: AWS::S3::Bucket\n").expect("valid");
        let name = &bucket(&t, "Uploads").name;
        assert!(name.starts_with("esb-uploads-"), "{name}");
        assert_eq!(name.len(), "esb-uploads-".len() + 12);
        let again = load("", "  Uploads:\n    Type: AWS::S3::Bucket\n").expect("valid");
        assert_eq!(
            &bucket(&again, "Uploads").name,
            name,
            "same template, same bucket"
        );

        let id = "A".repeat(200);
        let opts = LoadOptions {
            stack_name: "My_Very.Long-Project-Name-".repeat(5),
            ..LoadOptions::default()
        };
        let t = load_with_function("", &format!("  {id}:\n    Type: AWS::S3::Bucket\n"), &opts)
            .expect("valid");
        let name = &t.buckets[0].name;
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with("my-very-long-project"), "{name}");
        assert_eq!(crate::bucket_name::check(name), Ok(()), "{name}");
    }

    #[test]
    fn explicit_names_are_checked_where_written() {
        let t = load(
            "",
            "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${AWS::StackName}-data.v1'\n",
        )
        .expect("valid");
        assert_eq!(bucket(&t, "B").name, "esb-data.v1");
        for (name, why) in [
            ("My-Bucket", "'M' is not allowed"),
            ("ab", "it has 2 characters"),
            ("bucket-", "it must begin and end with a letter or a digit"),
            ("a..b", "it has two adjacent dots"),
            ("10.0.0.1", "it is formatted as an IP address"),
            ("xn--abc", "S3 reserves the prefix xn--"),
            ("data-s3alias", "S3 reserves the suffix -s3alias"),
        ] {
            let e = error(
                "",
                &format!(
                    "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: '{name}'\n"
                ),
            );
            assert!(
                e.contains(&format!(
                    "unit.yaml:14:7: Resources.B.Properties.BucketName: {name:?} is not a valid S3 bucket name: {why}"
                )),
                "{name}: {e}"
            );
        }
        let e = error(
            "",
            "  A:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: same}\n  B:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: same}\n",
        );
        assert!(
            e.contains("Resources.B.Properties.BucketName: bucket name \"same\" is also used by A"),
            "{e}"
        );
    }

    #[test]
    fn refs_and_attributes_reach_function_environments() {
        let t = load(
            "      Environment:\n        Variables:\n          NAME: !Ref Data\n          ARN: !GetAtt Data.Arn\n          DOMAIN: !GetAtt Data.DomainName\n          REGIONAL: !GetAtt [Data, RegionalDomainName]\n          DUAL: !Sub '${Data.DualStackDomainName}'\n          SITE: !GetAtt Data.WebsiteURL\n",
            "  Data:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: my-data}\n",
        )
        .expect("valid");
        let env = &t.functions[0].environment;
        for (key, want) in [
            ("NAME", "my-data"),
            ("ARN", "arn:aws:s3:::my-data"),
            ("DOMAIN", "my-data.s3.amazonaws.com"),
            ("REGIONAL", "my-data.s3.us-east-1.amazonaws.com"),
            ("DUAL", "my-data.s3.dualstack.us-east-1.amazonaws.com"),
            ("SITE", "http://my-data.s3-website-us-east-1.amazonaws.com"),
        ] {
            assert_eq!(env.get(key).map(String::as_str), Some(want), "{key}");
        }
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let e = error(
            "      Environment: {Variables: {X: !GetAtt Data.Nope}}\n",
            "  Data:\n    Type: AWS::S3::Bucket\n",
        );
        assert!(
            e.contains("Data (AWS::S3::Bucket) has no attribute \"Nope\" that ESB can resolve (hint: available: Arn, DomainName, RegionalDomainName, DualStackDomainName, WebsiteURL)"),
            "{e}"
        );
    }

    #[test]
    fn conditions_are_honoured() {
        let t = load(
            "",
            "  Skipped:\n    Type: AWS::S3::Bucket\n    Condition: Never\n    Properties: {BucketName: Not_Checked}\n  Kept:\n    Type: AWS::S3::Bucket\n",
        )
        .expect("valid");
        let ids: Vec<&str> = t.buckets.iter().map(|b| b.logical_id.as_str()).collect();
        assert_eq!(ids, ["Kept"]);
        let e = error(
            "      Environment: {Variables: {B: !Ref Skipped}}\n",
            "  Skipped:\n    Type: AWS::S3::Bucket\n    Condition: Never\n",
        );
        assert!(
            e.contains("Skipped is not created: its Condition Never is false"),
            "{e}"
        );
    }

    #[test]
    fn versioning_cors_and_tags() {
        let t = load(
            "",
            "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      VersioningConfiguration: {Status: Enabled}\n      CorsConfiguration:\n        CorsRules:\n          - Id: web\n            AllowedOrigins: ['https://*.example.com']\n            AllowedMethods: [GET, PUT]\n            AllowedHeaders: ['*']\n            ExposedHeaders: [ETag]\n            MaxAge: 3000\n          - {AllowedOrigins: ['*'], AllowedMethods: [HEAD]}\n      Tags:\n        - {Key: team, Value: data}\n        - {Key: stage, Value: !Ref AWS::Region}\n",
        )
        .expect("valid");
        let b = bucket(&t, "B");
        assert_eq!(b.versioning.as_deref(), Some("Enabled"));
        assert_eq!(
            b.cors_rules,
            [
                BucketCorsRule {
                    id: Some("web".into()),
                    allowed_origins: vec!["https://*.example.com".into()],
                    allowed_methods: vec!["GET".into(), "PUT".into()],
                    allowed_headers: vec!["*".into()],
                    exposed_headers: vec!["ETag".into()],
                    max_age_s: Some(3000),
                },
                BucketCorsRule {
                    id: None,
                    allowed_origins: vec!["*".into()],
                    allowed_methods: vec!["HEAD".into()],
                    allowed_headers: Vec::new(),
                    exposed_headers: Vec::new(),
                    max_age_s: None,
                },
            ]
        );
        assert_eq!(
            b.tags,
            [
                ("team".to_string(), "data".to_string()),
                ("stage".to_string(), "us-east-1".to_string())
            ]
        );
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);

        for (props, want) in [
            (
                "VersioningConfiguration: {Status: On}",
                "VersioningConfiguration.Status: \"On\" is not Enabled or Suspended",
            ),
            (
                "VersioningConfiguration: {}",
                "VersioningConfiguration: Status is missing",
            ),
            (
                "CorsConfiguration: {CorsRules: [{AllowedOrigins: ['*'], AllowedMethods: [PATCH]}]}",
                "CorsRules[0].AllowedMethods: \"PATCH\" is not a CORS method of S3",
            ),
            (
                "CorsConfiguration: {CorsRules: [{AllowedOrigins: ['*']}]}",
                "CorsRules[0]: AllowedMethods is missing",
            ),
            (
                "CorsConfiguration: {CorsRules: [{AllowedOrigins: ['*'], AllowedMethods: [GET], MaxAge: -1}]}",
                "MaxAge must be a whole number of seconds",
            ),
            (
                "CorsConfiguration: {CorsRules: [{AllowedOrigin: ['*'], AllowedMethods: [GET]}]}",
                "CorsRules[0].AllowedOrigin: is not one of Id, AllowedOrigins",
            ),
            (
                "Tags: [{Key: a, Value: b}, {Key: a, Value: c}]",
                "Tags[1]: a is tagged twice",
            ),
            ("Tags: [{Key: a}]", "Tags[0]: Value is missing"),
            (
                "Tags: [{Key: 'aws:x', Value: b}]",
                "the aws: prefix is reserved",
            ),
        ] {
            let e = error(
                "",
                &format!("  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      {props}\n"),
            );
            assert!(e.contains(want), "{props}: {e}");
            assert!(e.contains("unit.yaml:14:"), "{props}: {e}");
        }
    }

    #[test]
    fn lambda_configurations_target_functions() {
        let t = load(
            "",
            "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      NotificationConfiguration:\n        LambdaConfigurations:\n          - Event: s3:ObjectCreated:*\n            Function: !GetAtt Fn.Arn\n            Filter: {S3Key: {Rules: [{Name: Prefix, Value: in/}, {Name: suffix, Value: .csv}]}}\n          - {Event: 's3:ObjectRemoved:Delete', Function: !GetAtt Fn.Arn}\n        QueueConfigurations: []\n",
        )
        .expect("valid");
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:Fn";
        assert_eq!(
            bucket(&t, "B").lambda_notifications,
            [
                LambdaNotification {
                    id: None,
                    function_arn: arn.into(),
                    events: vec!["s3:ObjectCreated:*".into()],
                    prefix: Some("in/".into()),
                    suffix: Some(".csv".into()),
                },
                LambdaNotification {
                    id: None,
                    function_arn: arn.into(),
                    events: vec!["s3:ObjectRemoved:Delete".into()],
                    prefix: None,
                    suffix: None,
                },
            ]
        );
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(
            w[0].ends_with("unit.yaml:20:9: Resources.B.Properties.NotificationConfiguration.QueueConfigurations: is not acted on by ESB (it delivers S3 events to functions only); ignored"),
            "{w:#?}"
        );

        let t = load(
            "",
            "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketEncryption: {}\n      NotificationConfiguration:\n        LambdaConfigurations:\n          - {Event: 's3:ObjectCreated:*', Function: 'arn:aws:lambda:us-east-1:123456789012:function:elsewhere'}\n",
        )
        .expect("valid");
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(
            w[0].ends_with(
                "Resources.B.Properties.BucketEncryption: is not acted on by ESB; ignored"
            ),
            "{w:#?}"
        );
        assert!(w[1].contains("LambdaConfigurations[0]: arn:aws:lambda:us-east-1:123456789012:function:elsewhere is not a function of this template"), "{w:#?}");

        for (config, want) in [
            (
                "{Event: 's3:ObjectCreated:Upload', Function: !GetAtt Fn.Arn}",
                "unit.yaml:16:14: Resources.B.Properties.NotificationConfiguration.LambdaConfigurations[0].Event: \"s3:ObjectCreated:Upload\" is not an S3 event type",
            ),
            (
                "{Event: [s3:ObjectCreated:Put], Function: !GetAtt Fn.Arn}",
                "Event is one event type, not a list",
            ),
            (
                "{Event: 's3:ObjectCreated:*'}",
                "LambdaConfigurations[0]: Function is missing",
            ),
            (
                "{Event: 's3:ObjectCreated:*', Function: !GetAtt Fn.Arn, Filter: {S3Key: {Rules: [{Name: prefix, Value: a}, {Name: PREFIX, Value: b}]}}}",
                "Filter.S3Key.Rules[1]: a filter has at most one prefix rule",
            ),
            (
                "{Event: 's3:ObjectCreated:*', Function: !GetAtt Fn.Arn, Filter: {S3Key: {Rules: [{Name: infix, Value: a}]}}}",
                "Rules[0].Name: \"infix\" is not prefix or suffix",
            ),
        ] {
            let e = error(
                "",
                &format!(
                    "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      NotificationConfiguration:\n        LambdaConfigurations:\n          - {config}\n"
                ),
            );
            assert!(e.contains(want), "{config}: {e}");
        }
    }

    #[test]
    fn notifications_that_s3_would_find_ambiguous() {
        let e = error(
            "      Events:\n        Up:\n          Type: S3\n          Properties: {Bucket: !Ref B, Events: 's3:ObjectCreated:Put', Filter: {S3Key: {Rules: [{Name: prefix, Value: in/a/}]}}}\n",
            "  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      NotificationConfiguration:\n        LambdaConfigurations:\n          - Event: s3:ObjectCreated:*\n            Function: !GetAtt Fn.Arn\n            Filter: {S3Key: {Rules: [{Name: prefix, Value: in/}]}}\n",
        );
        assert!(
            e.contains("unit.yaml:12:9: Resources.Fn.Properties.Events.Up: overlaps Resources.B.Properties.NotificationConfiguration.LambdaConfigurations[0] (line 20)"),
            "{e}"
        );
    }
}
