//! `AWS::DynamoDB::Table` and `AWS::Serverless::SimpleTable` resources turned into
//! [`TableSpec`]s: the name (what `Ref` gives, see `resource_refs`), the key schema and
//! its attribute definitions, billing and throughput, secondary indexes, the stream,
//! time to live, tags, deletion protection and table class. Each is checked the way
//! DynamoDB checks the `CreateTable` CloudFormation sends, so a table that loads here
//! does not fail there. A SimpleTable is read as the table SAM makes of it.

use sha2::{Digest, Sha256};

use crate::bucket_name;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::{
    AttributeDefinition, AttributeType, BillingMode, KeySchemaElement, KeyType, Projection,
    ProjectionType, SecondaryIndex, StreamViewType, TableSpec, Throughput, TimeToLive,
};
use crate::props::{fields, list, property, required, tag_list, tag_map, text};
use crate::resources::{Resource, SIMPLE_TABLE};
use crate::spot::Spot;
use crate::value::Value;

/// `AWS::DynamoDB::Table` properties ESB reads.
const ACTED_ON: [&str; 12] = [
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
    "Tags",
    "DeletionProtectionEnabled",
    "TableClass",
];
/// The other properties CloudFormation defines: accepted, warned about. Anything else
/// is a mistake CloudFormation refuses.
const NOT_ACTED_ON: [&str; 8] = [
    "ContributorInsightsSpecification",
    "ImportSourceSpecification",
    "KinesisStreamSpecification",
    "OnDemandThroughput",
    "PointInTimeRecoverySpecification",
    "ResourcePolicy",
    "SSESpecification",
    "WarmThroughput",
];
/// `AWS::Serverless::SimpleTable` properties; SAM defines no others. Encryption and
/// point-in-time recovery mean nothing to a local table, so they are taken quietly.
const SIMPLE_PROPERTIES: [&str; 6] = [
    "PrimaryKey",
    "ProvisionedThroughput",
    "TableName",
    "Tags",
    "SSESpecification",
    "PointInTimeRecoverySpecification",
];
/// DynamoDB's limits.
const MAX_GSIS: usize = 20;
const MAX_LSIS: usize = 5;
const MAX_NON_KEY_ATTRIBUTES: usize = 100;
const MAX_NON_KEY_PER_INDEX: usize = 20;
const MIN_NAME: usize = 3;
const MAX_NAME: usize = 255;
const MAX_ATTRIBUTE_NAME: usize = 255;
/// The length of the unique part of a generated name, as CloudFormation makes it.
const UNIQUE_LEN: usize = 12;
const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TABLE_CLASSES: [&str; 2] = ["STANDARD", "STANDARD_INFREQUENT_ACCESS"];

const KEY_HINT: &str = "KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}] (the RANGE key is optional)";
const ATTRIBUTES_HINT: &str = "AttributeDefinitions: [{AttributeName: pk, AttributeType: S}] (S, N or B), one per key attribute of the table and its indexes";
const THROUGHPUT_HINT: &str =
    "ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: 5}";
const INDEX_HINT: &str = "{IndexName: byEmail, KeySchema: [{AttributeName: email, KeyType: HASH}], Projection: {ProjectionType: ALL}}";
const PROJECTION_HINT: &str =
    "Projection: {ProjectionType: ALL} (or KEYS_ONLY, or INCLUDE with NonKeyAttributes: [a, b])";
const STREAM_HINT: &str = "StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES} (or NEW_IMAGE, OLD_IMAGE, KEYS_ONLY)";
const TTL_HINT: &str = "TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}";
const PRIMARY_KEY_HINT: &str = "PrimaryKey: {Name: id, Type: String} (String, Number or Binary)";
pub const NAME_HINT: &str =
    "a table name is 3 to 255 letters, digits, _, . and -; leave TableName out for a generated one";

/// A table and where its name is written, for the check across tables.
#[derive(Debug)]
pub struct LoadedTable<'n> {
    pub spec: TableSpec,
    /// Where the name is written (the resource when it is generated).
    pub name_spot: Spot<'n>,
}

pub fn read<'n>(r: &Resolver<'_>, res: &Resource<'n>) -> Result<LoadedTable<'n>, TemplateError> {
    let name = r.table_name(res)?;
    let name_spot = match res.property("TableName") {
        Some((e, path)) => Spot::of(e, path),
        None => Spot::bare(res.key_pos, res.path()),
    };
    let spec = if res.type_name == SIMPLE_TABLE {
        simple_table(r, res, name)?
    } else {
        table(r, res, name)?
    };
    Ok(LoadedTable { spec, name_spot })
}

/// Fails on the first table whose name another table has (DynamoDB names are unique
/// in an account and region).
pub fn finish(
    r: &Resolver<'_>,
    tables: Vec<LoadedTable<'_>>,
) -> Result<Vec<TableSpec>, TemplateError> {
    for (i, t) in tables.iter().enumerate() {
        if let Some(other) = tables[..i].iter().find(|o| o.spec.name == t.spec.name) {
            return Err(r.error(
                t.name_spot.at,
                &t.name_spot.path,
                ErrorKind::DuplicateTableName {
                    name: t.spec.name.clone(),
                    other: other.spec.logical_id.clone(),
                },
                "give each table its own TableName",
            ));
        }
    }
    Ok(tables.into_iter().map(|t| t.spec).collect())
}

/// What DynamoDB would object to in a table or index name, if anything.
pub fn check_name(name: &str) -> Result<(), String> {
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "{c:?} is not allowed (letters, digits, _, . and - only)"
        ));
    }
    // ASCII from here on: bytes are characters.
    if !(MIN_NAME..=MAX_NAME).contains(&name.len()) {
        return Err(format!(
            "it has {} characters; DynamoDB allows {MIN_NAME} to {MAX_NAME}",
            name.len()
        ));
    }
    Ok(())
}

/// CloudFormation's name for a table without `TableName`:
/// `<stack name>-<logical id>-<12 characters>`, the first two parts shortened (the
/// longer first) so the whole fits in 255 characters.
///
/// CloudFormation draws the 12 upper-case letters and digits at random when it
/// creates the table. ESB derives them from a SHA-256 of the stack name and the
/// logical id instead: ESB "creates" the table on every start, and a restarted ESB
/// must find the same table, with its items, again. The stack name is the
/// `AWS::StackName` pseudo parameter's value (`LoadOptions::stack_name`, which `esb`
/// sets to the template's directory name), so `!Sub '${AWS::StackName}-...'` and the
/// generated names agree. Characters a table name cannot have are made hyphens, so
/// any directory name gives a valid name.
pub fn generated_name(stack_name: &str, logical_id: &str) -> String {
    let digest = Sha256::digest(format!("{stack_name}:{logical_id}").as_bytes());
    let unique: String = digest
        .iter()
        .take(UNIQUE_LEN)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    let clean = |part: &str| {
        part.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches('-')
            .to_string()
    };
    let (stack, id) = (clean(stack_name), clean(logical_id));
    let (stack, id) = bucket_name::fit(&stack, &id, MAX_NAME - UNIQUE_LEN - 1);
    [stack, id, unique.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<&str>>()
        .join("-")
}

/// An `AWS::DynamoDB::Table`.
fn table(r: &Resolver<'_>, res: &Resource<'_>, name: String) -> Result<TableSpec, TemplateError> {
    let base = format!("{}.Properties", res.path());
    for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
        let path = format!("{base}.{}", e.key);
        if NOT_ACTED_ON.contains(&e.key.as_str()) {
            r.warn_once(
                &format!("table property {}", e.key),
                e.key_pos,
                &path,
                "is not acted on by ESB; ignored".into(),
            );
        } else if !ACTED_ON.contains(&e.key.as_str()) {
            return Err(r.error(
                e.key_pos,
                &path,
                ErrorKind::Structure(format!("is not a property of {}", res.type_name)),
                format!("a table has {}", ACTED_ON.join(", ")),
            ));
        }
    }
    let missing = |key: &str, hint: &str| {
        r.error(
            res.key_pos,
            &base,
            ErrorKind::MissingProperty(key.into()),
            hint,
        )
    };

    let (keys, keys_spot) =
        property(r, res, "KeySchema")?.ok_or_else(|| missing("KeySchema", KEY_HINT))?;
    let key_schema = key_schema(r, &keys, &keys_spot)?;
    let (defs, defs_spot) = property(r, res, "AttributeDefinitions")?
        .ok_or_else(|| missing("AttributeDefinitions", ATTRIBUTES_HINT))?;
    let attribute_definitions = attribute_definitions(r, &defs, &defs_spot)?;

    let billing = property(r, res, "BillingMode")?;
    let billing_mode = match &billing {
        None => BillingMode::Provisioned,
        Some((v, spot)) => {
            let mode = text(r, v, spot, "BillingMode: PAY_PER_REQUEST (or PROVISIONED)")?;
            BillingMode::parse(&mode).ok_or_else(|| {
                r.error(
                    spot.at,
                    &spot.path,
                    ErrorKind::InvalidValue(format!("{mode:?} is not PROVISIONED or PAY_PER_REQUEST")),
                    "BillingMode: PAY_PER_REQUEST (on-demand) or PROVISIONED (the default, with ProvisionedThroughput)",
                )
            })?
        }
    };
    let throughput = property(r, res, "ProvisionedThroughput")?;
    let provisioned_throughput = match (billing_mode, throughput) {
        (BillingMode::Provisioned, Some((v, spot))) => Some(self::throughput(r, &v, &spot)?),
        (BillingMode::Provisioned, None) => {
            let (at, path) = billing
                .as_ref()
                .map_or((res.key_pos, base.clone()), |(_, s)| (s.at, s.path.clone()));
            return Err(r.error(
                at,
                &path,
                ErrorKind::MissingProperty("ProvisionedThroughput".into()),
                format!("BillingMode PROVISIONED (CloudFormation's default) needs {THROUGHPUT_HINT}; or set BillingMode: PAY_PER_REQUEST"),
            ));
        }
        (BillingMode::PayPerRequest, Some((_, spot))) => {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::BadTable(
                    "ProvisionedThroughput cannot be set when BillingMode is PAY_PER_REQUEST"
                        .into(),
                ),
                "remove ProvisionedThroughput, or set BillingMode: PROVISIONED",
            ));
        }
        (BillingMode::PayPerRequest, None) => None,
    };

    let (global_secondary_indexes, gsi_spot) = match property(r, res, "GlobalSecondaryIndexes")? {
        Some((v, spot)) => (indexes(r, &v, &spot, billing_mode, true)?, Some(spot)),
        None => (Vec::new(), None),
    };
    let (local_secondary_indexes, lsi_spot) = match property(r, res, "LocalSecondaryIndexes")? {
        Some((v, spot)) => (indexes(r, &v, &spot, billing_mode, false)?, Some(spot)),
        None => (Vec::new(), None),
    };
    if let Some(spot) = &lsi_spot
        && !local_secondary_indexes.is_empty()
    {
        check_local_indexes(r, &key_schema, &keys_spot, &local_secondary_indexes, spot)?;
    }
    check_index_names(
        r,
        &global_secondary_indexes,
        gsi_spot.as_ref(),
        &local_secondary_indexes,
        lsi_spot.as_ref(),
    )?;
    let mut key_uses = vec![(key_schema.as_slice(), keys_spot.clone())];
    for (list, spot) in [
        (&global_secondary_indexes, &gsi_spot),
        (&local_secondary_indexes, &lsi_spot),
    ] {
        if let Some(spot) = spot {
            for (i, index) in list.iter().enumerate() {
                key_uses.push((index.key_schema.as_slice(), spot.index(i).key("KeySchema")));
            }
        }
    }
    check_attribute_uses(r, &attribute_definitions, &defs_spot, &key_uses)?;

    let stream_view_type = match property(r, res, "StreamSpecification")? {
        Some((v, spot)) => Some(stream(r, &v, &spot)?),
        None => None,
    };
    let ttl = match property(r, res, "TimeToLiveSpecification")? {
        Some((v, spot)) => time_to_live(r, &v, &spot)?,
        None => None,
    };
    let tags = match property(r, res, "Tags")? {
        Some((v, spot)) => tag_list(r, &v, &spot, "DynamoDB")?,
        None => Vec::new(),
    };
    let deletion_protection = match property(r, res, "DeletionProtectionEnabled")? {
        Some((v, spot)) => boolean(r, &v, &spot, "DeletionProtectionEnabled: true")?,
        None => false,
    };
    let table_class = match property(r, res, "TableClass")? {
        Some((v, spot)) => {
            let hint = "TableClass: STANDARD or STANDARD_INFREQUENT_ACCESS";
            let class = text(r, &v, &spot, hint)?;
            if !TABLE_CLASSES.contains(&class.as_str()) {
                return Err(r.error(
                    spot.at,
                    &spot.path,
                    ErrorKind::InvalidValue(format!(
                        "{class:?} is not STANDARD or STANDARD_INFREQUENT_ACCESS"
                    )),
                    hint,
                ));
            }
            Some(class)
        }
        None => None,
    };
    Ok(TableSpec {
        logical_id: res.id.to_string(),
        name,
        key_schema,
        attribute_definitions: attribute_definitions.into_iter().map(|(d, _)| d).collect(),
        billing_mode,
        provisioned_throughput,
        global_secondary_indexes,
        local_secondary_indexes,
        stream_view_type,
        ttl,
        tags,
        deletion_protection,
        table_class,
    })
}

/// An `AWS::Serverless::SimpleTable`: a table with a single HASH key (`PrimaryKey`,
/// default `{Name: id, Type: String}`), PROVISIONED when it has
/// `ProvisionedThroughput`, else PAY_PER_REQUEST, as SAM writes it.
fn simple_table(
    r: &Resolver<'_>,
    res: &Resource<'_>,
    name: String,
) -> Result<TableSpec, TemplateError> {
    let base = format!("{}.Properties", res.path());
    for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
        if !SIMPLE_PROPERTIES.contains(&e.key.as_str()) {
            return Err(r.error(
                e.key_pos,
                &format!("{base}.{}", e.key),
                ErrorKind::Structure(format!("is not a property of {SIMPLE_TABLE}")),
                format!(
                    "a SimpleTable has {}; use an AWS::DynamoDB::Table for more",
                    SIMPLE_PROPERTIES.join(", ")
                ),
            ));
        }
    }
    let (key_name, key_type) = match property(r, res, "PrimaryKey")? {
        Some((v, spot)) => primary_key(r, &v, &spot)?,
        None => ("id".to_string(), AttributeType::String),
    };
    let (billing_mode, provisioned_throughput) = match property(r, res, "ProvisionedThroughput")? {
        Some((v, spot)) => (BillingMode::Provisioned, Some(throughput(r, &v, &spot)?)),
        None => (BillingMode::PayPerRequest, None),
    };
    let tags = match property(r, res, "Tags")? {
        Some((v, spot)) => tag_map(r, &v, &spot, "DynamoDB")?,
        None => Vec::new(),
    };
    Ok(TableSpec {
        logical_id: res.id.to_string(),
        name,
        key_schema: vec![KeySchemaElement {
            attribute_name: key_name.clone(),
            key_type: KeyType::Hash,
        }],
        attribute_definitions: vec![AttributeDefinition {
            attribute_name: key_name,
            attribute_type: key_type,
        }],
        billing_mode,
        provisioned_throughput,
        global_secondary_indexes: Vec::new(),
        local_secondary_indexes: Vec::new(),
        stream_view_type: None,
        ttl: None,
        tags,
        deletion_protection: false,
        table_class: None,
    })
}

/// SimpleTable `PrimaryKey: {Name, Type: String | Number | Binary}`.
fn primary_key(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<(String, AttributeType), TemplateError> {
    fields(r, v, spot, &["Name", "Type"], PRIMARY_KEY_HINT)?;
    let name_spot = spot.key("Name");
    let name = text(
        r,
        required(r, v, "Name", spot, PRIMARY_KEY_HINT)?,
        &name_spot,
        PRIMARY_KEY_HINT,
    )?;
    check_attribute_name(r, &name, &name_spot, PRIMARY_KEY_HINT)?;
    let type_spot = spot.key("Type");
    let kind = text(
        r,
        required(r, v, "Type", spot, PRIMARY_KEY_HINT)?,
        &type_spot,
        PRIMARY_KEY_HINT,
    )?;
    let kind = match kind.as_str() {
        "String" => AttributeType::String,
        "Number" => AttributeType::Number,
        "Binary" => AttributeType::Binary,
        _ => {
            return Err(r.error(
                type_spot.at,
                &type_spot.path,
                ErrorKind::InvalidValue(format!("{kind:?} is not String, Number or Binary")),
                PRIMARY_KEY_HINT,
            ));
        }
    };
    Ok((name, kind))
}

/// A `KeySchema`: the HASH key first, then at most one RANGE key, as DynamoDB wants.
fn key_schema(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<Vec<KeySchemaElement>, TemplateError> {
    let bad =
        |at: &Spot<'_>, why: String| r.error(at.at, &at.path, ErrorKind::BadTable(why), KEY_HINT);
    let Value::List(items) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a list, not {}", v.shape())),
            KEY_HINT,
        ));
    };
    if !(1..=2).contains(&items.len()) {
        return Err(bad(
            spot,
            format!(
                "a key schema has one HASH key and at most one RANGE key, not {} elements",
                items.len()
            ),
        ));
    }
    let mut out: Vec<KeySchemaElement> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = spot.index(i);
        fields(r, item, &at, &["AttributeName", "KeyType"], KEY_HINT)?;
        let name_spot = at.key("AttributeName");
        let attribute_name = text(
            r,
            required(r, item, "AttributeName", &at, KEY_HINT)?,
            &name_spot,
            KEY_HINT,
        )?;
        check_attribute_name(r, &attribute_name, &name_spot, KEY_HINT)?;
        let type_spot = at.key("KeyType");
        let key_type = text(
            r,
            required(r, item, "KeyType", &at, KEY_HINT)?,
            &type_spot,
            KEY_HINT,
        )?;
        let key_type = KeyType::parse(&key_type).ok_or_else(|| {
            r.error(
                type_spot.at,
                &type_spot.path,
                ErrorKind::InvalidValue(format!("{key_type:?} is not HASH or RANGE")),
                KEY_HINT,
            )
        })?;
        match (i, key_type) {
            (0, KeyType::Range) => {
                return Err(bad(
                    &type_spot,
                    "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".into(),
                ));
            }
            (1, KeyType::Hash) => {
                return Err(bad(
                    &type_spot,
                    "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type".into(),
                ));
            }
            _ => {}
        }
        if out.iter().any(|k| k.attribute_name == attribute_name) {
            return Err(bad(
                &name_spot,
                "Both the Hash Key and the Range Key element in the KeySchema have the same name"
                    .into(),
            ));
        }
        out.push(KeySchemaElement {
            attribute_name,
            key_type,
        });
    }
    Ok(out)
}

fn check_attribute_name(
    r: &Resolver<'_>,
    name: &str,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<(), TemplateError> {
    if name.is_empty() || name.len() > MAX_ATTRIBUTE_NAME {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!(
                "a key attribute name is 1 to {MAX_ATTRIBUTE_NAME} bytes, not {}",
                name.len()
            )),
            hint,
        ));
    }
    Ok(())
}

/// `AttributeDefinitions`, each with where it is written.
fn attribute_definitions<'n>(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'n>,
) -> Result<Vec<(AttributeDefinition, Spot<'n>)>, TemplateError> {
    let Value::List(items) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a list, not {}", v.shape())),
            ATTRIBUTES_HINT,
        ));
    };
    let mut out: Vec<(AttributeDefinition, Spot<'n>)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = spot.index(i);
        fields(
            r,
            item,
            &at,
            &["AttributeName", "AttributeType"],
            ATTRIBUTES_HINT,
        )?;
        let name_spot = at.key("AttributeName");
        let attribute_name = text(
            r,
            required(r, item, "AttributeName", &at, ATTRIBUTES_HINT)?,
            &name_spot,
            ATTRIBUTES_HINT,
        )?;
        check_attribute_name(r, &attribute_name, &name_spot, ATTRIBUTES_HINT)?;
        let type_spot = at.key("AttributeType");
        let kind = text(
            r,
            required(r, item, "AttributeType", &at, ATTRIBUTES_HINT)?,
            &type_spot,
            ATTRIBUTES_HINT,
        )?;
        let attribute_type = AttributeType::parse(&kind).ok_or_else(|| {
            r.error(
                type_spot.at,
                &type_spot.path,
                ErrorKind::InvalidValue(format!(
                    "{kind:?} is not S, N or B (DynamoDB keys are strings, numbers or binary)"
                )),
                ATTRIBUTES_HINT,
            )
        })?;
        if out.iter().any(|(d, _)| d.attribute_name == attribute_name) {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::BadTable(format!("{attribute_name} is defined twice")),
                ATTRIBUTES_HINT,
            ));
        }
        out.push((
            AttributeDefinition {
                attribute_name,
                attribute_type,
            },
            at,
        ));
    }
    Ok(out)
}

/// DynamoDB wants every key attribute of the table and its indexes defined, and
/// refuses definitions no key uses ("Number of attributes in KeySchema does not
/// exactly match number of attributes defined in AttributeDefinitions"): the other
/// attributes of an item are schemaless.
fn check_attribute_uses(
    r: &Resolver<'_>,
    definitions: &[(AttributeDefinition, Spot<'_>)],
    definitions_spot: &Spot<'_>,
    key_uses: &[(&[KeySchemaElement], Spot<'_>)],
) -> Result<(), TemplateError> {
    for (keys, spot) in key_uses {
        for (i, k) in keys.iter().enumerate() {
            if !definitions
                .iter()
                .any(|(d, _)| d.attribute_name == k.attribute_name)
            {
                let at = spot.index(i).key("AttributeName");
                return Err(r.error(
                    at.at,
                    &at.path,
                    ErrorKind::BadTable(format!(
                        "key attribute {} is not in AttributeDefinitions",
                        k.attribute_name
                    )),
                    format!(
                        "add {{AttributeName: {}, AttributeType: S}} (or N, B) to {}",
                        k.attribute_name, definitions_spot.path
                    ),
                ));
            }
        }
    }
    for (d, at) in definitions {
        let used = key_uses
            .iter()
            .any(|(keys, _)| keys.iter().any(|k| k.attribute_name == d.attribute_name));
        if !used {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::BadTable(format!(
                    "{} is defined but no key schema of the table or its indexes uses it; DynamoDB refuses such definitions",
                    d.attribute_name
                )),
                "define only key attributes: other attributes need no definition",
            ));
        }
    }
    Ok(())
}

/// `ProvisionedThroughput: {ReadCapacityUnits, WriteCapacityUnits}`, each at least 1.
fn throughput(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<Throughput, TemplateError> {
    fields(
        r,
        v,
        spot,
        &["ReadCapacityUnits", "WriteCapacityUnits"],
        THROUGHPUT_HINT,
    )?;
    let units = |key: &str| -> Result<u64, TemplateError> {
        let at = spot.key(key);
        let value = required(r, v, key, spot, THROUGHPUT_HINT)?;
        match value {
            Value::Number(t) | Value::String(t) => t.parse::<u64>().ok().filter(|n| *n >= 1),
            _ => None,
        }
        .ok_or_else(|| {
            r.error(
                at.at,
                &at.path,
                ErrorKind::InvalidValue(format!(
                    "{key} must be a whole number, 1 or more, not {}",
                    value.as_text().unwrap_or_else(|| value.shape().to_string())
                )),
                THROUGHPUT_HINT,
            )
        })
    };
    Ok(Throughput {
        read_capacity_units: units("ReadCapacityUnits")?,
        write_capacity_units: units("WriteCapacityUnits")?,
    })
}

/// `GlobalSecondaryIndexes` (`global`) or `LocalSecondaryIndexes`.
fn indexes(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    billing: BillingMode,
    global: bool,
) -> Result<Vec<SecondaryIndex>, TemplateError> {
    let (max, kind) = if global {
        (MAX_GSIS, "global")
    } else {
        (MAX_LSIS, "local")
    };
    let Value::List(items) = v else {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a list, not {}", v.shape())),
            INDEX_HINT,
        ));
    };
    if items.len() > max {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::BadTable(format!(
                "{} {kind} secondary indexes; DynamoDB allows {max} per table",
                items.len()
            )),
            "merge indexes, or move some access patterns to another table",
        ));
    }
    let allowed: &[&str] = if global {
        &[
            "IndexName",
            "KeySchema",
            "Projection",
            "ProvisionedThroughput",
            "ContributorInsightsSpecification",
            "OnDemandThroughput",
            "WarmThroughput",
        ]
    } else {
        &["IndexName", "KeySchema", "Projection"]
    };
    let mut out = Vec::with_capacity(items.len());
    let mut non_key_total = 0;
    for (i, item) in items.iter().enumerate() {
        let at = spot.index(i);
        let entries = fields(r, item, &at, allowed, INDEX_HINT)?;
        for (key, _) in entries {
            if [
                "ContributorInsightsSpecification",
                "OnDemandThroughput",
                "WarmThroughput",
            ]
            .contains(&key.as_str())
            {
                let field = at.key(key);
                r.warn_once(
                    &format!("index property {key}"),
                    field.at,
                    &field.path,
                    "is not acted on by ESB; ignored".into(),
                );
            }
        }
        let name_spot = at.key("IndexName");
        let index_name = text(
            r,
            required(r, item, "IndexName", &at, INDEX_HINT)?,
            &name_spot,
            INDEX_HINT,
        )?;
        check_name(&index_name).map_err(|why| {
            r.error(
                name_spot.at,
                &name_spot.path,
                ErrorKind::BadTable(format!("{index_name:?} is not a valid index name: {why}")),
                INDEX_HINT,
            )
        })?;
        let key_schema = key_schema(
            r,
            required(r, item, "KeySchema", &at, INDEX_HINT)?,
            &at.key("KeySchema"),
        )?;
        let projection = projection(
            r,
            required(r, item, "Projection", &at, PROJECTION_HINT)?,
            &at.key("Projection"),
        )?;
        non_key_total += projection.non_key_attributes.len();
        if non_key_total > MAX_NON_KEY_ATTRIBUTES {
            let p = at.key("Projection").key("NonKeyAttributes");
            return Err(r.error(
                p.at,
                &p.path,
                ErrorKind::BadTable(format!(
                    "more than {MAX_NON_KEY_ATTRIBUTES} NonKeyAttributes across the {kind} secondary indexes; DynamoDB allows {MAX_NON_KEY_ATTRIBUTES}"
                )),
                "project ALL instead of listing the attributes",
            ));
        }
        let provisioned_throughput = match (global, billing, item.get("ProvisionedThroughput")) {
            (false, ..) | (true, BillingMode::PayPerRequest, None) => None,
            (true, BillingMode::Provisioned, Some(t)) => {
                Some(throughput(r, t, &at.key("ProvisionedThroughput"))?)
            }
            (true, BillingMode::Provisioned, None) => {
                return Err(r.error(
                    at.at,
                    &at.path,
                    ErrorKind::MissingProperty("ProvisionedThroughput".into()),
                    format!("on a PROVISIONED table (CloudFormation's default BillingMode) every global secondary index needs {THROUGHPUT_HINT}"),
                ));
            }
            (true, BillingMode::PayPerRequest, Some(_)) => {
                let t = at.key("ProvisionedThroughput");
                return Err(r.error(
                    t.at,
                    &t.path,
                    ErrorKind::BadTable(
                        "ProvisionedThroughput cannot be set when BillingMode is PAY_PER_REQUEST"
                            .into(),
                    ),
                    "remove the index's ProvisionedThroughput, or make the table PROVISIONED",
                ));
            }
        };
        out.push(SecondaryIndex {
            index_name,
            key_schema,
            projection,
            provisioned_throughput,
        });
    }
    Ok(out)
}

/// `Projection: {ProjectionType, NonKeyAttributes}`. DynamoDB refuses a projection
/// without a type ("Unknown ProjectionType: null"), and attributes listed with a type
/// other than INCLUDE.
fn projection(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<Projection, TemplateError> {
    fields(
        r,
        v,
        spot,
        &["ProjectionType", "NonKeyAttributes"],
        PROJECTION_HINT,
    )?;
    let type_spot = spot.key("ProjectionType");
    let kind = text(
        r,
        required(r, v, "ProjectionType", spot, PROJECTION_HINT)?,
        &type_spot,
        PROJECTION_HINT,
    )?;
    let projection_type = ProjectionType::parse(&kind).ok_or_else(|| {
        r.error(
            type_spot.at,
            &type_spot.path,
            ErrorKind::InvalidValue(format!("{kind:?} is not ALL, KEYS_ONLY or INCLUDE")),
            PROJECTION_HINT,
        )
    })?;
    let non_key_attributes = match v.get("NonKeyAttributes") {
        None => Vec::new(),
        Some(attrs) => {
            let at = spot.key("NonKeyAttributes");
            let attrs = list(r, attrs, &at, PROJECTION_HINT)?;
            let problem = if projection_type != ProjectionType::Include {
                Some(format!(
                    "NonKeyAttributes can only be given with ProjectionType INCLUDE, not {}",
                    projection_type.as_str()
                ))
            } else if !(1..=MAX_NON_KEY_PER_INDEX).contains(&attrs.len()) {
                Some(format!(
                    "an index projects 1 to {MAX_NON_KEY_PER_INDEX} NonKeyAttributes, not {}",
                    attrs.len()
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(r.error(
                    at.at,
                    &at.path,
                    ErrorKind::BadTable(problem),
                    PROJECTION_HINT,
                ));
            }
            attrs
        }
    };
    Ok(Projection {
        projection_type,
        non_key_attributes,
    })
}

/// A local index shares the table's HASH key and needs a RANGE key of its own, on a
/// table that has one.
fn check_local_indexes(
    r: &Resolver<'_>,
    table_keys: &[KeySchemaElement],
    table_keys_spot: &Spot<'_>,
    lsis: &[SecondaryIndex],
    spot: &Spot<'_>,
) -> Result<(), TemplateError> {
    if !table_keys.iter().any(|k| k.key_type == KeyType::Range) {
        return Err(r.error(
            table_keys_spot.at,
            &table_keys_spot.path,
            ErrorKind::BadTable(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex".into(),
            ),
            "give the table a RANGE key, or make the indexes global",
        ));
    }
    let table_hash = table_keys.first().map(|k| k.attribute_name.as_str());
    for (i, index) in lsis.iter().enumerate() {
        let at = spot.index(i).key("KeySchema");
        let problem = if index.key_schema.first().map(|k| k.attribute_name.as_str()) != table_hash {
            Some(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}",
                index.index_name
            ))
        } else if index.key_schema.len() < 2 {
            Some(format!(
                "local secondary index {} has no RANGE key; a local index is the table's HASH key with another RANGE key",
                index.index_name
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::BadTable(problem),
                "a local index's KeySchema is the table's HASH key, then its own RANGE key",
            ));
        }
    }
    Ok(())
}

/// Index names are unique across a table's global and local indexes.
fn check_index_names(
    r: &Resolver<'_>,
    gsis: &[SecondaryIndex],
    gsi_spot: Option<&Spot<'_>>,
    lsis: &[SecondaryIndex],
    lsi_spot: Option<&Spot<'_>>,
) -> Result<(), TemplateError> {
    let all: Vec<(&str, Spot<'_>)> = [(gsis, gsi_spot), (lsis, lsi_spot)]
        .into_iter()
        .filter_map(|(list, spot)| spot.map(|s| (list, s)))
        .flat_map(|(list, spot)| {
            list.iter()
                .enumerate()
                .map(move |(i, x)| (x.index_name.as_str(), spot.index(i).key("IndexName")))
        })
        .collect();
    for (i, (name, at)) in all.iter().enumerate() {
        if all[..i].iter().any(|(other, _)| other == name) {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::BadTable(format!("Duplicate index name: {name}")),
                "give each index of the table its own IndexName",
            ));
        }
    }
    Ok(())
}

/// `StreamSpecification: {StreamViewType}` (its `ResourcePolicy` is warned about).
fn stream(r: &Resolver<'_>, v: &Value, spot: &Spot<'_>) -> Result<StreamViewType, TemplateError> {
    fields(
        r,
        v,
        spot,
        &["StreamViewType", "ResourcePolicy"],
        STREAM_HINT,
    )?;
    if v.get("ResourcePolicy").is_some() {
        let at = spot.key("ResourcePolicy");
        r.warn_once(
            "stream ResourcePolicy",
            at.at,
            &at.path,
            "is not acted on by ESB; ignored".into(),
        );
    }
    let type_spot = spot.key("StreamViewType");
    let kind = text(
        r,
        required(r, v, "StreamViewType", spot, STREAM_HINT)?,
        &type_spot,
        STREAM_HINT,
    )?;
    StreamViewType::parse(&kind).ok_or_else(|| {
        r.error(
            type_spot.at,
            &type_spot.path,
            ErrorKind::InvalidValue(format!(
                "{kind:?} is not one of {}",
                StreamViewType::NAMES.join(", ")
            )),
            STREAM_HINT,
        )
    })
}

/// `TimeToLiveSpecification: {AttributeName, Enabled}`. `AttributeName` is needed
/// when enabling; a disabled specification without one is no TTL at all (None).
fn time_to_live(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<Option<TimeToLive>, TemplateError> {
    fields(r, v, spot, &["AttributeName", "Enabled"], TTL_HINT)?;
    let enabled = boolean(
        r,
        required(r, v, "Enabled", spot, TTL_HINT)?,
        &spot.key("Enabled"),
        TTL_HINT,
    )?;
    let name_spot = spot.key("AttributeName");
    let attribute_name = match v.get("AttributeName") {
        Some(n) => text(r, n, &name_spot, TTL_HINT)?,
        None if enabled => {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::MissingProperty("AttributeName".into()),
                TTL_HINT,
            ));
        }
        None => return Ok(None),
    };
    check_attribute_name(r, &attribute_name, &name_spot, TTL_HINT)?;
    Ok(Some(TimeToLive {
        attribute_name,
        enabled,
    }))
}

fn boolean(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<bool, TemplateError> {
    v.as_bool().ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!(
                "must be true or false, not {}",
                v.as_text().unwrap_or_else(|| v.shape().to_string())
            )),
            hint,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Template;
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    /// Key schema, definitions and billing of a minimal valid table, at property
    /// indentation.
    const KEYS: &str = "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n";

    fn load(function_props: &str, resources: &str) -> Result<Template, TemplateError> {
        load_with_function(function_props, resources, &LoadOptions::default())
    }

    /// A table `T` with `props` (at property indentation, 6 spaces).
    fn with_table(props: &str) -> Result<Template, TemplateError> {
        load(
            "",
            &format!("  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n{props}"),
        )
    }

    fn error(props: &str) -> String {
        with_table(props).expect_err(props).to_string()
    }

    fn table<'t>(t: &'t Template, id: &str) -> &'t TableSpec {
        t.tables
            .iter()
            .find(|x| x.logical_id == id)
            .unwrap_or_else(|| panic!("no table {id}: {:?}", t.tables))
    }

    fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
        KeySchemaElement {
            attribute_name: name.into(),
            key_type,
        }
    }

    fn def(name: &str, attribute_type: AttributeType) -> AttributeDefinition {
        AttributeDefinition {
            attribute_name: name.into(),
            attribute_type,
        }
    }

    fn units(read: u64, write: u64) -> Option<Throughput> {
        Some(Throughput {
            read_capacity_units: read,
            write_capacity_units: write,
        })
    }

    #[test]
    fn a_full_table() {
        let t = load(
            "",
            "  Orders:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !Sub '${AWS::StackName}-orders'\n      BillingMode: PROVISIONED\n      ProvisionedThroughput: {ReadCapacityUnits: 5, WriteCapacityUnits: '10'}\n      KeySchema:\n        - {AttributeName: customer, KeyType: HASH}\n        - {AttributeName: orderedAt, KeyType: RANGE}\n      AttributeDefinitions:\n        - {AttributeName: customer, AttributeType: S}\n        - {AttributeName: orderedAt, AttributeType: N}\n        - {AttributeName: status, AttributeType: S}\n        - {AttributeName: total, AttributeType: N}\n        - {AttributeName: receipt, AttributeType: B}\n      GlobalSecondaryIndexes:\n        - IndexName: byStatus\n          KeySchema: [{AttributeName: status, KeyType: HASH}, {AttributeName: orderedAt, KeyType: RANGE}]\n          Projection: {ProjectionType: INCLUDE, NonKeyAttributes: [total, items]}\n          ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 1}\n        - IndexName: by.receipt_1\n          KeySchema: [{AttributeName: receipt, KeyType: HASH}]\n          Projection: {ProjectionType: KEYS_ONLY}\n          ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}\n      LocalSecondaryIndexes:\n        - IndexName: byTotal\n          KeySchema: [{AttributeName: customer, KeyType: HASH}, {AttributeName: total, KeyType: RANGE}]\n          Projection: {ProjectionType: ALL}\n      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}\n      TimeToLiveSpecification: {AttributeName: expiresAt, Enabled: true}\n      Tags:\n        - {Key: team, Value: shop}\n        - {Key: region, Value: !Ref AWS::Region}\n      DeletionProtectionEnabled: true\n      TableClass: !If [Never, STANDARD, STANDARD_INFREQUENT_ACCESS]\n      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}\n",
        )
        .expect("valid");
        assert_eq!(
            table(&t, "Orders"),
            &TableSpec {
                logical_id: "Orders".into(),
                name: "esb-orders".into(),
                key_schema: vec![
                    key("customer", KeyType::Hash),
                    key("orderedAt", KeyType::Range)
                ],
                attribute_definitions: vec![
                    def("customer", AttributeType::String),
                    def("orderedAt", AttributeType::Number),
                    def("status", AttributeType::String),
                    def("total", AttributeType::Number),
                    def("receipt", AttributeType::Binary),
                ],
                billing_mode: BillingMode::Provisioned,
                provisioned_throughput: units(5, 10),
                global_secondary_indexes: vec![
                    SecondaryIndex {
                        index_name: "byStatus".into(),
                        key_schema: vec![
                            key("status", KeyType::Hash),
                            key("orderedAt", KeyType::Range)
                        ],
                        projection: Projection {
                            projection_type: ProjectionType::Include,
                            non_key_attributes: vec!["total".into(), "items".into()],
                        },
                        provisioned_throughput: units(2, 1),
                    },
                    SecondaryIndex {
                        index_name: "by.receipt_1".into(),
                        key_schema: vec![key("receipt", KeyType::Hash)],
                        projection: Projection {
                            projection_type: ProjectionType::KeysOnly,
                            non_key_attributes: Vec::new(),
                        },
                        provisioned_throughput: units(1, 1),
                    },
                ],
                local_secondary_indexes: vec![SecondaryIndex {
                    index_name: "byTotal".into(),
                    key_schema: vec![key("customer", KeyType::Hash), key("total", KeyType::Range)],
                    projection: Projection {
                        projection_type: ProjectionType::All,
                        non_key_attributes: Vec::new(),
                    },
                    provisioned_throughput: None,
                }],
                stream_view_type: Some(StreamViewType::NewAndOldImages),
                ttl: Some(TimeToLive {
                    attribute_name: "expiresAt".into(),
                    enabled: true,
                }),
                tags: vec![
                    ("team".into(), "shop".into()),
                    ("region".into(), "us-east-1".into())
                ],
                deletion_protection: true,
                table_class: Some("STANDARD_INFREQUENT_ACCESS".into()),
            }
        );
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1, "{w:#?}");
        assert!(
            w[0].ends_with("unit.yaml:46:7: Resources.Orders.Properties.PointInTimeRecoverySpecification: is not acted on by ESB; ignored"),
            "{w:#?}"
        );
    }

    #[test]
    fn parameters_and_conditions_reach_table_properties() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/valid/unit.yaml");
        let source = "Parameters:\n  Billing: {Type: String, Default: PAY_PER_REQUEST}\n  Key: {Type: String, Default: userId}\nConditions:\n  OnDemand: !Equals [!Ref Billing, PAY_PER_REQUEST]\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: ../code/python, Handler: app.handler, Runtime: python3.12}\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: !Ref Billing\n      ProvisionedThroughput: !If [OnDemand, !Ref AWS::NoValue, {ReadCapacityUnits: 1, WriteCapacityUnits: 1}]\n      KeySchema: [{AttributeName: !Ref Key, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: !Ref Key, AttributeType: S}]\n";
        let t = crate::load_str(source, &path, &LoadOptions::default()).expect("valid");
        let x = table(&t, "T");
        assert_eq!(x.billing_mode, BillingMode::PayPerRequest);
        assert_eq!(x.provisioned_throughput, None);
        assert_eq!(x.key_schema, [key("userId", KeyType::Hash)]);
        let opts = LoadOptions {
            parameter_overrides: vec!["Billing=PROVISIONED".into()],
            ..LoadOptions::default()
        };
        let t = crate::load_str(source, &path, &opts).expect("valid");
        assert_eq!(table(&t, "T").provisioned_throughput, units(1, 1));

        let t = load(
            "",
            &format!("  Skipped:\n    Type: AWS::DynamoDB::Table\n    Condition: Never\n    Properties: {{KeySchema: nonsense}}\n  Kept:\n    Type: AWS::DynamoDB::Table\n    Properties:\n{KEYS}"),
        )
        .expect("valid");
        let ids: Vec<&str> = t.tables.iter().map(|x| x.logical_id.as_str()).collect();
        assert_eq!(
            ids,
            ["Kept"],
            "a table whose Condition is false is not read"
        );
    }

    #[test]
    fn simple_tables() {
        let t = load(
            "",
            "  Plain:\n    Type: AWS::Serverless::SimpleTable\n  Full:\n    Type: AWS::Serverless::SimpleTable\n    Properties:\n      TableName: sessions\n      PrimaryKey: {Name: sessionId, Type: Number}\n      ProvisionedThroughput: {ReadCapacityUnits: 3, WriteCapacityUnits: 4}\n      Tags: {team: auth, stage: !Ref AWS::Region}\n      SSESpecification: {SSEEnabled: true}\n      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}\n",
        )
        .expect("valid");
        let plain = table(&t, "Plain");
        assert!(plain.name.starts_with("esb-Plain-"), "{}", plain.name);
        assert_eq!(plain.key_schema, [key("id", KeyType::Hash)]);
        assert_eq!(
            plain.attribute_definitions,
            [def("id", AttributeType::String)]
        );
        assert_eq!(plain.billing_mode, BillingMode::PayPerRequest);
        assert_eq!(plain.provisioned_throughput, None);
        assert!(plain.tags.is_empty() && plain.stream_view_type.is_none());
        let full = table(&t, "Full");
        assert_eq!(full.name, "sessions");
        assert_eq!(full.key_schema, [key("sessionId", KeyType::Hash)]);
        assert_eq!(
            full.attribute_definitions,
            [def("sessionId", AttributeType::Number)]
        );
        assert_eq!(full.billing_mode, BillingMode::Provisioned);
        assert_eq!(full.provisioned_throughput, units(3, 4));
        assert_eq!(
            full.tags,
            [
                ("team".to_string(), "auth".to_string()),
                ("stage".to_string(), "us-east-1".to_string())
            ]
        );
        assert!(t.warnings.is_empty(), "quietly: {:?}", t.warnings);

        for (props, want) in [
            (
                "PrimaryKey: {Name: id, Type: S}",
                "unit.yaml:14:30: Resources.S.Properties.PrimaryKey.Type: \"S\" is not String, Number or Binary",
            ),
            ("PrimaryKey: {Name: id}", "PrimaryKey: Type is missing"),
            (
                "StreamSpecification: {StreamViewType: KEYS_ONLY}",
                "Resources.S.Properties.StreamSpecification: is not a property of AWS::Serverless::SimpleTable (hint: a SimpleTable has PrimaryKey, ProvisionedThroughput, TableName, Tags",
            ),
            (
                "ProvisionedThroughput: {ReadCapacityUnits: 0, WriteCapacityUnits: 1}",
                "ProvisionedThroughput.ReadCapacityUnits: ReadCapacityUnits must be a whole number, 1 or more, not 0",
            ),
            (
                "Tags: [{Key: a, Value: b}]",
                "Tags: must be a mapping, not a list",
            ),
            (
                "TableName: 'no spaces'",
                "\"no spaces\" is not a valid DynamoDB table name: ' ' is not allowed",
            ),
        ] {
            let e = load(
                "",
                &format!(
                    "  S:\n    Type: AWS::Serverless::SimpleTable\n    Properties:\n      {props}\n"
                ),
            )
            .expect_err(props)
            .to_string();
            assert!(e.contains(want), "{props}: {e}");
        }
    }

    #[test]
    fn generated_names_are_deterministic_and_valid() {
        let a = generated_name("shop", "Orders");
        assert_eq!(a, generated_name("shop", "Orders"), "same input, same name");
        assert_ne!(a, generated_name("shop", "Items"));
        assert_ne!(a, generated_name("other", "Orders"));
        let unique = a.strip_prefix("shop-Orders-").expect("stack-id-unique");
        assert_eq!(unique.len(), 12);
        assert!(
            unique
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
            "{unique}"
        );
        let long_stack = "Stack".repeat(60);
        let long_id = "T".repeat(255);
        for (stack, id) in [
            (long_stack.as_str(), "Orders"),
            ("shop", long_id.as_str()),
            (long_stack.as_str(), long_id.as_str()),
            ("my project (v2)", "Orders"),
            ("", "Orders"),
            ("ünïcode", "Orders"),
        ] {
            let name = generated_name(stack, id);
            assert!(name.len() <= 255, "{stack}/{id}: {}", name.len());
            assert_eq!(check_name(&name), Ok(()), "{stack}/{id}: {name}");
        }
        assert!(generated_name("my project (v2)", "Orders").starts_with("my-project--v2-Orders-"));
        assert!(generated_name("", "Orders").starts_with("Orders-"));
        let long = generated_name(&long_stack, "Orders");
        assert!(long.ends_with(&format!(
            "-Orders-{}",
            &generated_name(&long_stack, "Orders")[long.len() - 12..]
        )));
        assert_eq!(long.len(), 255);

        // Through the loader: the AWS::StackName the caller gives, the same each time.
        let yaml = "  Orders:\n    Type: AWS::Serverless::SimpleTable\n";
        let opts = LoadOptions {
            stack_name: "shop".into(),
            ..LoadOptions::default()
        };
        let first = load_with_function("", yaml, &opts).expect("valid");
        let again = load_with_function("", yaml, &opts).expect("valid");
        assert_eq!(
            table(&first, "Orders").name,
            generated_name("shop", "Orders")
        );
        assert_eq!(table(&first, "Orders").name, table(&again, "Orders").name);
    }

    #[test]
    fn refs_and_attributes_reach_function_environments() {
        let t = load(
            "      Environment:\n        Variables:\n          NAME: !Ref Data\n          ARN: !GetAtt Data.Arn\n          STREAM: !GetAtt [Data, StreamArn]\n          SUB: !Sub '${Data}|${Data.StreamArn}'\n          SIMPLE: !GetAtt Simple.Arn\n",
            &format!("  Data:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: orders\n{KEYS}      StreamSpecification: {{StreamViewType: NEW_IMAGE}}\n  Simple:\n    Type: AWS::Serverless::SimpleTable\n    Properties: {{TableName: simple}}\n"),
        )
        .expect("valid");
        let env = &t.functions[0].environment;
        let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";
        for (key, want) in [
            ("NAME", "orders".to_string()),
            ("ARN", arn.to_string()),
            ("STREAM", format!("{arn}/stream/latest")),
            ("SUB", format!("orders|{arn}/stream/latest")),
            (
                "SIMPLE",
                "arn:aws:dynamodb:us-east-1:123456789012:table/simple".to_string(),
            ),
        ] {
            assert_eq!(env.get(key), Some(&want), "{key}");
        }
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);

        for (var, resources, want) in [
            (
                "!GetAtt Data.Nope",
                format!("  Data:\n    Type: AWS::DynamoDB::Table\n    Properties:\n{KEYS}"),
                "Data (AWS::DynamoDB::Table) has no attribute \"Nope\" that ESB can resolve (hint: available: Arn, StreamArn)",
            ),
            (
                "!GetAtt Data.StreamArn",
                format!("  Data:\n    Type: AWS::DynamoDB::Table\n    Properties:\n{KEYS}"),
                "Environment.Variables.X: Data (AWS::DynamoDB::Table) has no stream, so no StreamArn (hint: add StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES} to Data",
            ),
            (
                "!GetAtt Data.StreamArn",
                "  Data:\n    Type: AWS::Serverless::SimpleTable\n".to_string(),
                "Data (AWS::Serverless::SimpleTable) has no stream, so no StreamArn (hint: a SimpleTable has no stream",
            ),
        ] {
            let e = load(
                &format!("      Environment: {{Variables: {{X: {var}}}}}\n"),
                &resources,
            )
            .expect_err(var)
            .to_string();
            assert!(e.contains(want), "{var}: {e}");
        }
    }

    #[test]
    fn what_dynamodb_refuses() {
        for (props, want) in [
            (
                "      BillingMode: PAY_PER_REQUEST\n",
                "unit.yaml:11:3: Resources.T.Properties: KeySchema is missing",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n",
                "Resources.T.Properties: AttributeDefinitions is missing",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: RANGE}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
                "unit.yaml:15:39: Resources.T.Properties.KeySchema[0].KeyType: Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: a, KeyType: HASH}, {AttributeName: b, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: a, AttributeType: S}, {AttributeName: b, AttributeType: S}]\n",
                "KeySchema[1].KeyType: Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: a, KeyType: HASH}, {AttributeName: a, KeyType: RANGE}]\n      AttributeDefinitions: [{AttributeName: a, AttributeType: S}]\n",
                "KeySchema[1].AttributeName: Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: a, KeyType: HASH}, {AttributeName: b, KeyType: RANGE}, {AttributeName: c, KeyType: RANGE}]\n      AttributeDefinitions: [{AttributeName: a, AttributeType: S}]\n",
                "Resources.T.Properties.KeySchema: a key schema has one HASH key and at most one RANGE key, not 3 elements",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: PARTITION}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
                "KeySchema[0].KeyType: \"PARTITION\" is not HASH or RANGE",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: String}]\n",
                "AttributeDefinitions[0].AttributeType: \"String\" is not S, N or B",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n",
                "unit.yaml:15:20: Resources.T.Properties.KeySchema[0].AttributeName: key attribute pk is not in AttributeDefinitions (hint: add {AttributeName: pk, AttributeType: S} (or N, B) to Resources.T.Properties.AttributeDefinitions)",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: name, AttributeType: S}]\n",
                "unit.yaml:16:69: Resources.T.Properties.AttributeDefinitions[1]: name is defined but no key schema of the table or its indexes uses it; DynamoDB refuses such definitions",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: pk, AttributeType: N}]\n",
                "AttributeDefinitions[1]: pk is defined twice",
            ),
            (
                "      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
                "unit.yaml:11:3: Resources.T.Properties: ProvisionedThroughput is missing (hint: BillingMode PROVISIONED (CloudFormation's default) needs ProvisionedThroughput",
            ),
            (
                "      BillingMode: PROVISIONED\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
                "unit.yaml:14:7: Resources.T.Properties.BillingMode: ProvisionedThroughput is missing",
            ),
            (
                "      BillingMode: ON_DEMAND\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
                "BillingMode: \"ON_DEMAND\" is not PROVISIONED or PAY_PER_REQUEST",
            ),
            (
                &format!(
                    "{KEYS}      ProvisionedThroughput: {{ReadCapacityUnits: 1, WriteCapacityUnits: 1}}\n"
                ),
                "Resources.T.Properties.ProvisionedThroughput: ProvisionedThroughput cannot be set when BillingMode is PAY_PER_REQUEST",
            ),
            (
                "      ProvisionedThroughput: {ReadCapacityUnits: 1}\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]\n",
                "ProvisionedThroughput: WriteCapacityUnits is missing",
            ),
            (
                "      ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: S}]\n      GlobalSecondaryIndexes: [{IndexName: byG, KeySchema: [{AttributeName: g, KeyType: HASH}], Projection: {ProjectionType: ALL}}]\n",
                "GlobalSecondaryIndexes[0]: ProvisionedThroughput is missing (hint: on a PROVISIONED table",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: g, AttributeType: S}]\n      GlobalSecondaryIndexes: [{IndexName: byG, KeySchema: [{AttributeName: g, KeyType: HASH}], Projection: {ProjectionType: ALL}, ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}}]\n",
                "GlobalSecondaryIndexes[0].ProvisionedThroughput: ProvisionedThroughput cannot be set when BillingMode is PAY_PER_REQUEST",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes: [{{IndexName: byG, KeySchema: [{{AttributeName: g, KeyType: HASH}}], Projection: {{ProjectionType: ALL}}}}]\n"
                ),
                "GlobalSecondaryIndexes[0].KeySchema[0].AttributeName: key attribute g is not in AttributeDefinitions",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes: [{{IndexName: ab, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{ProjectionType: ALL}}}}]\n"
                ),
                "GlobalSecondaryIndexes[0].IndexName: \"ab\" is not a valid index name: it has 2 characters; DynamoDB allows 3 to 255",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes: [{{IndexName: byG, KeySchema: [{{AttributeName: pk, KeyType: HASH}}]}}]\n"
                ),
                "GlobalSecondaryIndexes[0]: Projection is missing",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes: [{{IndexName: byG, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{}}}}]\n"
                ),
                "GlobalSecondaryIndexes[0].Projection: ProjectionType is missing",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes: [{{IndexName: byG, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{ProjectionType: ALL, NonKeyAttributes: [a]}}}}]\n"
                ),
                "Projection.NonKeyAttributes: NonKeyAttributes can only be given with ProjectionType INCLUDE, not ALL",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes: [{{IndexName: byG, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{ProjectionType: SOME}}}}]\n"
                ),
                "Projection.ProjectionType: \"SOME\" is not ALL, KEYS_ONLY or INCLUDE",
            ),
            (
                &format!(
                    "{KEYS}      GlobalSecondaryIndexes:\n        - {{IndexName: same, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{ProjectionType: ALL}}}}\n        - {{IndexName: same, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{ProjectionType: ALL}}}}\n"
                ),
                "unit.yaml:19:12: Resources.T.Properties.GlobalSecondaryIndexes[1].IndexName: Duplicate index name: same",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: s, AttributeType: S}]\n      LocalSecondaryIndexes: [{IndexName: byS, KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: s, KeyType: RANGE}], Projection: {ProjectionType: ALL}}]\n",
                "Resources.T.Properties.KeySchema: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: sk, AttributeType: S}, {AttributeName: s, AttributeType: S}]\n      LocalSecondaryIndexes: [{IndexName: byS, KeySchema: [{AttributeName: s, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}], Projection: {ProjectionType: ALL}}]\n",
                "LocalSecondaryIndexes[0].KeySchema: Index KeySchema does not have the same leading hash key as table KeySchema for index: byS",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: sk, AttributeType: S}]\n      LocalSecondaryIndexes: [{IndexName: byPk, KeySchema: [{AttributeName: pk, KeyType: HASH}], Projection: {ProjectionType: ALL}}]\n",
                "LocalSecondaryIndexes[0].KeySchema: local secondary index byPk has no RANGE key",
            ),
            (
                "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]\n      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}, {AttributeName: sk, AttributeType: S}]\n      LocalSecondaryIndexes: [{IndexName: byPk, KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}], Projection: {ProjectionType: ALL}, ProvisionedThroughput: {ReadCapacityUnits: 1, WriteCapacityUnits: 1}}]\n",
                "LocalSecondaryIndexes[0].ProvisionedThroughput: is not one of IndexName, KeySchema, Projection",
            ),
            (
                &format!("{KEYS}      StreamSpecification: {{StreamViewType: ALL}}\n"),
                "StreamSpecification.StreamViewType: \"ALL\" is not one of NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY",
            ),
            (
                &format!("{KEYS}      StreamSpecification: {{}}\n"),
                "StreamSpecification: StreamViewType is missing",
            ),
            (
                &format!("{KEYS}      TimeToLiveSpecification: {{Enabled: true}}\n"),
                "TimeToLiveSpecification: AttributeName is missing",
            ),
            (
                &format!(
                    "{KEYS}      TimeToLiveSpecification: {{AttributeName: ttl, Enabled: yes}}\n"
                ),
                "TimeToLiveSpecification.Enabled: must be true or false, not yes",
            ),
            (
                &format!("{KEYS}      TableClass: GLACIER\n"),
                "TableClass: \"GLACIER\" is not STANDARD or STANDARD_INFREQUENT_ACCESS",
            ),
            (
                &format!("{KEYS}      DeletionProtectionEnabled: maybe\n"),
                "DeletionProtectionEnabled: must be true or false, not maybe",
            ),
            (
                &format!("{KEYS}      Tags: [{{Key: 'aws:owner', Value: x}}]\n"),
                "Tags[0]: aws:owner: the aws: prefix is reserved",
            ),
            (
                &format!("{KEYS}      TableName: ab\n"),
                "unit.yaml:17:7: Resources.T.Properties.TableName: \"ab\" is not a valid DynamoDB table name: it has 2 characters; DynamoDB allows 3 to 255",
            ),
            (
                &format!("{KEYS}      TableName: 'orders/v2'\n"),
                "\"orders/v2\" is not a valid DynamoDB table name: '/' is not allowed",
            ),
            (
                &format!("{KEYS}      KeySchemas: []\n"),
                "Resources.T.Properties.KeySchemas: is not a property of AWS::DynamoDB::Table (hint: a table has TableName, KeySchema,",
            ),
        ] {
            let e = error(props);
            assert!(e.contains(want), "{props}: {e}");
        }
    }

    #[test]
    fn index_limits() {
        let gsis: String = (0..21)
            .map(|i| format!("        - {{IndexName: index{i}, KeySchema: [{{AttributeName: pk, KeyType: HASH}}], Projection: {{ProjectionType: KEYS_ONLY}}}}\n"))
            .collect();
        let e = error(&format!("{KEYS}      GlobalSecondaryIndexes:\n{gsis}"));
        assert!(
            e.contains("unit.yaml:17:7: Resources.T.Properties.GlobalSecondaryIndexes: 21 global secondary indexes; DynamoDB allows 20 per table"),
            "{e}"
        );
        let twenty: String = gsis.lines().take(20).map(|l| format!("{l}\n")).collect();
        let t = with_table(&format!("{KEYS}      GlobalSecondaryIndexes:\n{twenty}"))
            .expect("20 is fine");
        assert_eq!(table(&t, "T").global_secondary_indexes.len(), 20);

        let lsis: String = (0..6)
            .map(|i| format!("        - {{IndexName: local{i}, KeySchema: [{{AttributeName: pk, KeyType: HASH}}, {{AttributeName: sk, KeyType: RANGE}}], Projection: {{ProjectionType: ALL}}}}\n"))
            .collect();
        let e = error(&format!(
            "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{{AttributeName: pk, KeyType: HASH}}, {{AttributeName: sk, KeyType: RANGE}}]\n      AttributeDefinitions: [{{AttributeName: pk, AttributeType: S}}, {{AttributeName: sk, AttributeType: S}}]\n      LocalSecondaryIndexes:\n{lsis}"
        ));
        assert!(
            e.contains("Resources.T.Properties.LocalSecondaryIndexes: 6 local secondary indexes; DynamoDB allows 5 per table"),
            "{e}"
        );
    }

    #[test]
    fn table_names_are_unique() {
        let e = load(
            "",
            &format!("  A:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: same\n{KEYS}  B:\n    Type: AWS::Serverless::SimpleTable\n    Properties: {{TableName: same}}\n"),
        )
        .expect_err("duplicate")
        .to_string();
        assert!(
            e.contains("Resources.B.Properties.TableName: table name \"same\" is also used by A (hint: give each table its own TableName)"),
            "{e}"
        );
    }
}
