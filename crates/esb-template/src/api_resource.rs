//! `AWS::Serverless::Api` (REST) and `AWS::Serverless::HttpApi` resources, and the
//! implicit APIs SAM creates for events that name no API (`ServerlessRestApi`,
//! `ServerlessHttpApi`). `Globals.Api` / `Globals.HttpApi` apply to both kinds, as SAM
//! adds the implicit APIs before it applies Globals.

use crate::api_auth::{self, AuthRules};
use crate::cors;
use crate::error::{ErrorKind, TemplateError};
use crate::globals::{ApiGlobals, Merged, Sources};
use crate::intrinsics::Resolver;
use crate::model::{ApiSpec, ApiType, DEFAULT_ROUTE, IMPLICIT_HTTP_API, IMPLICIT_REST_API};
use crate::resources::{API, Resource};
use crate::yaml_tree::Position;

/// Properties ESB acts on, by kind.
const REST_ACTED_ON: [&str; 4] = ["StageName", "Cors", "BinaryMediaTypes", "Auth"];
const HTTP_ACTED_ON: [&str; 3] = ["StageName", "CorsConfiguration", "Auth"];
/// Properties with no effect on how an API serves: accepted without a warning.
const NO_EFFECT: [&str; 3] = ["Name", "Description", "Tags"];
/// The stage of the implicit REST API.
const IMPLICIT_STAGE: &str = "Prod";
const STAGE_HINT: &str = "a stage name is 1 to 128 letters, digits, - or _ (e.g. Prod)";

/// An API and what checking its routes needs.
#[derive(Debug)]
pub struct LoadedApi {
    pub spec: ApiSpec,
    pub rules: AuthRules,
}

fn acted_on(kind: ApiType) -> &'static [&'static str] {
    match kind {
        ApiType::Rest => &REST_ACTED_ON,
        ApiType::Http => &HTTP_ACTED_ON,
    }
}

/// Reports `Globals.Api` / `Globals.HttpApi` properties ESB does not act on, once.
pub fn check_globals(r: &Resolver<'_>, globals: &ApiGlobals<'_>) {
    for kind in [ApiType::Rest, ApiType::Http] {
        let Some((section, path)) = globals.section(kind) else {
            continue;
        };
        let name = path.trim_start_matches("Globals.");
        for e in section.value.entries() {
            let key = e.key.as_str();
            if !acted_on(kind).contains(&key) && !NO_EFFECT.contains(&key) {
                r.warn_once(
                    &format!("globals {name} {key}"),
                    e.key_pos,
                    &format!("{path}.{key}"),
                    "is not supported by ESB yet; ignored".into(),
                );
            }
        }
    }
}

/// An `AWS::Serverless::Api` or `AWS::Serverless::HttpApi` resource.
pub fn read(
    r: &Resolver<'_>,
    res: &Resource<'_>,
    globals: &ApiGlobals<'_>,
    function_names: &[String],
) -> Result<LoadedApi, TemplateError> {
    let kind = if res.type_name == API {
        ApiType::Rest
    } else {
        ApiType::Http
    };
    let base = format!("{}.Properties", res.path());
    for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
        let key = e.key.as_str();
        if !acted_on(kind).contains(&key) && !NO_EFFECT.contains(&key) {
            r.warn_once(
                &format!("{} property {key}", res.type_name),
                e.key_pos,
                &format!("{base}.{key}"),
                "is not supported by ESB yet; ignored".into(),
            );
        }
    }
    let src = Sources {
        own: res.properties.map(|p| (p, base.clone())),
        globals: globals.section(kind).map(|(e, p)| (&e.value, p)),
        at: res.key_pos,
        path: res.path(),
    };
    build(r, &src, kind, res.id, function_names)
}

/// The implicit API of `kind`, made for the event at `at` (the first that needs it).
pub fn implicit(
    r: &Resolver<'_>,
    kind: ApiType,
    globals: &ApiGlobals<'_>,
    function_names: &[String],
    at: Position,
    path: &str,
) -> Result<LoadedApi, TemplateError> {
    let src = Sources {
        own: None,
        globals: globals.section(kind).map(|(e, p)| (&e.value, p)),
        at,
        path: path.to_string(),
    };
    let id = match kind {
        ApiType::Rest => IMPLICIT_REST_API,
        ApiType::Http => IMPLICIT_HTTP_API,
    };
    build(r, &src, kind, id, function_names)
}

fn build(
    r: &Resolver<'_>,
    src: &Sources<'_>,
    kind: ApiType,
    id: &str,
    function_names: &[String],
) -> Result<LoadedApi, TemplateError> {
    let stage_name = stage(r, src, kind)?;
    let cors = match kind {
        ApiType::Http => match src.get(r, "CorsConfiguration")? {
            Some(m) => cors::from_value(r, Some(m.value), m.at, &m.path)?,
            None => None,
        },
        ApiType::Rest => match src.get(r, "Cors")? {
            Some(m) => Some(cors::from_rest_value(r, m.value, m.at, &m.path)?),
            None => None,
        },
    };
    let binary_media_types = match kind {
        ApiType::Rest => binary_media_types(r, src.get(r, "BinaryMediaTypes")?)?,
        ApiType::Http => Vec::new(),
    };
    let (auth, rules) = api_auth::read_api(r, src, kind, id, function_names)?;
    Ok(LoadedApi {
        spec: ApiSpec {
            logical_id: id.to_string(),
            kind,
            stage_name,
            cors,
            binary_media_types,
            auth,
        },
        rules,
    })
}

/// `StageName`, from the resource only (SAM refuses it in Globals): required on a REST
/// API resource; `Prod` for the implicit REST API; `$default` for HTTP APIs without one.
fn stage(r: &Resolver<'_>, src: &Sources<'_>, kind: ApiType) -> Result<String, TemplateError> {
    let own = src
        .own
        .as_ref()
        .and_then(|(n, base)| Some((n.entry("StageName")?, format!("{base}.StageName"))));
    let Some((entry, path)) = own else {
        return match (kind, &src.own) {
            (ApiType::Rest, Some((_, base))) => Err(r.error(
                src.at,
                base,
                ErrorKind::MissingProperty("StageName".into()),
                "an AWS::Serverless::Api needs StageName, e.g. StageName: Prod",
            )),
            (ApiType::Rest, None) => Ok(IMPLICIT_STAGE.to_string()),
            (ApiType::Http, _) => Ok(DEFAULT_ROUTE.to_string()),
        };
    };
    let name = r.string(&entry.value, &path)?;
    let valid = (kind == ApiType::Http && name == DEFAULT_ROUTE)
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if !valid {
        return Err(r.error(
            entry.key_pos,
            &path,
            ErrorKind::InvalidValue(format!("{name:?} is not a valid stage name")),
            STAGE_HINT,
        ));
    }
    Ok(name)
}

/// `BinaryMediaTypes`, with SAM's `~1` escape for `/` undone; duplicates (e.g. the same
/// type in Globals and on the API) are dropped.
fn binary_media_types(r: &Resolver<'_>, m: Option<Merged>) -> Result<Vec<String>, TemplateError> {
    let Some(m) = m else {
        return Ok(Vec::new());
    };
    let hint = "BinaryMediaTypes: [image~1png, \"*~1*\"] (~1 stands for /)";
    let items = m.value.as_text_list().ok_or_else(|| {
        r.error(
            m.at,
            &m.path,
            ErrorKind::InvalidValue("must be a list of media types".into()),
            hint,
        )
    })?;
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let media = item.replace("~1", "/");
        let well_formed = media
            .split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty() && !s.contains('/'));
        if !well_formed {
            return Err(r.error(
                m.at,
                &m.path,
                ErrorKind::InvalidValue(format!("{item:?} is not a media type like image/png")),
                hint,
            ));
        }
        if !out.contains(&media) {
            out.push(media);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{LoadOptions, Template, TemplateError, load_str};

    /// Loads `resources` (YAML at resource indentation) with a function `Fn` whose
    /// `Events` are `events`, as if the template were in `tests/fixtures/valid`.
    fn load(resources: &str, events: &str) -> Result<Template, TemplateError> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unit.yaml");
        let source = format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../code/python\n      Handler: app.handler\n      Runtime: python3.12\n      Events: {{{events}}}\n{resources}"
        );
        load_str(&source, &path, &LoadOptions::default())
    }

    fn error(resources: &str, events: &str) -> String {
        load(resources, events).expect_err(resources).to_string()
    }

    const HTTP: &str = "  Http:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n";
    const REST: &str =
        "  Rest:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n";

    #[test]
    fn stage_names_and_media_types() {
        for (props, want) in [
            (
                "      StageName: 'a b'\n",
                "\"a b\" is not a valid stage name",
            ),
            (
                "      StageName: Prod\n      BinaryMediaTypes: [image]\n",
                "\"image\" is not a media type like image/png",
            ),
            (
                "      StageName: Prod\n      BinaryMediaTypes: {a: b}\n",
                "must be a list of media types",
            ),
            (
                "      StageName: Prod\n      Cors: {AllowOrigin: \"'*'\", AllowCredentials: true}\n",
                "Resources.Rest.Properties.Cors: AllowCredentials cannot be used",
            ),
        ] {
            let rest = REST.replace("      StageName: Prod\n", "");
            let e = error(&format!("{rest}{props}"), "");
            assert!(e.contains(want), "{props}: {e}");
        }
        let t = load(&format!("{HTTP}      StageName: $default\n"), "").expect("valid");
        assert_eq!(t.apis[0].stage_name, "$default");
    }

    #[test]
    fn authorizer_mistakes() {
        let lambda = "FunctionArn: !GetAtt Fn.Arn";
        for (resources, want) in [
            (
                format!("{REST}      Auth: {{DefaultAuthorizer: Nope}}\n"),
                "Resources.Rest.Properties.Auth.DefaultAuthorizer: API Rest has no authorizer \"Nope\" (hint: name one of AWS_IAM;",
            ),
            (
                format!("{HTTP}      Auth: {{DefaultAuthorizer: AWS_IAM}}\n"),
                "API Http has no authorizer \"AWS_IAM\" (hint: declare the authorizer",
            ),
            (
                format!(
                    "{REST}      Auth: {{Authorizers: {{R: {{{lambda}, FunctionPayloadType: REQUEST}}}}}}\n"
                ),
                "Resources.Rest.Properties.Auth.Authorizers.R.Identity: REQUEST authorizer R caches answers by its identity sources, and names none",
            ),
            (
                format!(
                    "{REST}      Auth: {{Authorizers: {{R: {{{lambda}, FunctionPayloadType: EVENT}}}}}}\n"
                ),
                "FunctionPayloadType \"EVENT\" is not TOKEN or REQUEST",
            ),
            (
                format!("{REST}      Auth: {{Authorizers: {{R: {{Identity: {{}}}}}}}}\n"),
                "Resources.Rest.Properties.Auth.Authorizers.R: FunctionArn (or UserPoolArn) is missing",
            ),
            (
                format!("{HTTP}      Auth: {{Authorizers: {{L: {{{lambda}}}}}}}\n"),
                "AuthorizerPayloadFormatVersion is missing",
            ),
            (
                format!(
                    "{HTTP}      Auth: {{Authorizers: {{J: {{JwtConfiguration: {{issuer: x}}}}}}}}\n"
                ),
                "Resources.Http.Properties.Auth.Authorizers.J.JwtConfiguration: audience is missing",
            ),
            (
                format!(
                    "{HTTP}      Auth: {{Authorizers: {{J: {{JwtConfiguration: {{Issuer: x}}}}}}}}\n"
                ),
                "Issuer is not a JwtConfiguration field (issuer, audience)",
            ),
            (
                format!(
                    "{HTTP}      Auth: {{Authorizers: {{J: {{JwtConfiguration: {{issuer: x, audience: [a]}}, {lambda}}}}}}}\n"
                ),
                "JwtConfiguration (JWT) or FunctionArn (Lambda), not both",
            ),
            (
                format!("{HTTP}      Auth: [a]\n"),
                "Resources.Http.Properties.Auth: must be a mapping, not a list",
            ),
        ] {
            let e = error(&resources, "");
            assert!(e.contains(want), "{resources}\n{e}");
        }
    }

    #[test]
    fn iam_on_http_apis_needs_enabling() {
        let event =
            "E: {Type: HttpApi, Properties: {ApiId: !Ref Http, Auth: {Authorizer: AWS_IAM}}}";
        let e = error(HTTP.trim_end_matches("    Properties:\n"), event);
        assert!(
            e.contains("API Http has no authorizer \"AWS_IAM\" (hint: name one of NONE;"),
            "{e}"
        );
        let t = load(
            &format!("{HTTP}      Auth: {{EnableIamAuthorizer: true}}\n"),
            event,
        )
        .expect("valid");
        assert_eq!(
            t.functions[0].api_events[0].auth.authorizer.as_deref(),
            Some("AWS_IAM")
        );
    }

    #[test]
    fn cognito_authorizers_are_warned_about_and_not_applied() {
        let t = load(
            &format!("{REST}      Auth: {{DefaultAuthorizer: Pool, Authorizers: {{Pool: {{UserPoolArn: arn:aws:cognito-idp:us-east-1:1:userpool/x}}}}}}\n"),
            "E: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref Rest, Auth: {Authorizer: Pool}}}",
        )
        .expect("valid");
        let rest = &t.apis[0];
        assert!(rest.auth.authorizers.is_empty() && rest.auth.default_authorizer.is_none());
        assert_eq!(
            t.functions[0].api_events[0].auth.authorizer.as_deref(),
            Some("NONE")
        );
        assert!(
            t.warnings.iter().any(|w| w
                .message
                .contains("routes that use Pool are served without authorization")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn an_authorizer_may_serve_routes_of_its_own_api() {
        let t = load(
            &format!("{REST}      Auth: {{Authorizers: {{Self: {{FunctionArn: !GetAtt Fn.Arn}}}}}}\n"),
            "E: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref Rest, Auth: {Authorizer: Self}}}",
        )
        .expect("events are not dependencies of their function");
        assert_eq!(t.functions[0].api_events[0].api_id, "Rest");
    }

    #[test]
    fn skipped_apis_cannot_serve_routes() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unit.yaml");
        let source = "Conditions:\n  Never: !Equals [a, b]\nResources:\n  Rest:\n    Type: AWS::Serverless::Api\n    Condition: Never\n    Properties: {StageName: Prod}\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../code/python\n      Handler: app.handler\n      Runtime: python3.12\n      Events: {E: {Type: Api, Properties: {Path: /a, Method: get, RestApiId: !Ref Rest}}}\n";
        let e = load_str(source, &path, &LoadOptions::default())
            .expect_err("skipped")
            .to_string();
        assert!(
            e.contains("RestApiId: Rest is not created: its Condition Never is false"),
            "{e}"
        );
        let t = load_str(
            &source.replace(", RestApiId: !Ref Rest", ""),
            &path,
            &LoadOptions::default(),
        )
        .expect("valid");
        let ids: Vec<&str> = t.apis.iter().map(|a| a.logical_id.as_str()).collect();
        assert_eq!(ids, ["ServerlessRestApi"], "a skipped API is not served");
    }
}
