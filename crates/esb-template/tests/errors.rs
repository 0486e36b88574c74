//! Invalid templates fail with a typed error whose text names the file, line, column and
//! property path, says what is wrong and gives a hint.

mod common;

use common::load;
use esb_template::ErrorKind;

struct Case {
    fixture: &'static str,
    overrides: &'static [&'static str],
    /// `line:col`, or "" for errors with no place in the file.
    at: &'static str,
    path: &'static str,
    says: &'static str,
    kind: fn(&ErrorKind) -> bool,
}

const CASES: &[Case] = &[
    Case {
        fixture: "yaml_syntax",
        overrides: &[],
        at: "5:14",
        path: "",
        says: "invalid YAML: while parsing a flow mapping",
        kind: |k| matches!(k, ErrorKind::Yaml(_)),
    },
    Case {
        fixture: "no_resources",
        overrides: &[],
        at: "1:1",
        path: "Resources",
        says: "the template has no Resources",
        kind: |k| matches!(k, ErrorKind::MissingResources),
    },
    Case {
        fixture: "timeout",
        overrides: &[],
        at: "9:7",
        path: "Resources.Hello.Properties.Timeout",
        says: "must be a whole number of seconds from 1 to 900 (hint: got 901)",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "memory_size",
        overrides: &[],
        at: "9:7",
        path: "Resources.Hello.Properties.MemorySize",
        says: "must be a whole number of MB from 128 to 10240 (hint: got 64)",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "node_labels",
        overrides: &[],
        at: "11:11",
        path: "Resources.Thumbnail.Metadata.Esb.AvoidNodeLabels.zone dmz",
        says: "\"zone dmz\" is not a valid node label key (hint: a label key is 1 to 63",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "unknown_ref",
        overrides: &[],
        at: "11:23",
        path: "Resources.Hello.Properties.Environment.Variables.TABLE",
        says: "Ref to unknown \"Missing\" (hint: Ref names a parameter",
        kind: |k| matches!(k, ErrorKind::UnknownRef(t) if t == "Missing"),
    },
    Case {
        fixture: "bad_getatt",
        overrides: &[],
        at: "10:26",
        path: "Resources.Hello.Properties.Environment.Variables.WORLD",
        says: "World (AWS::Serverless::Function) has no attribute \"FunctionUrl\" that ESB can resolve (hint: available: Arn)",
        kind: |k| matches!(k, ErrorKind::BadGetAtt(_)),
    },
    Case {
        fixture: "getatt_unknown_resource",
        overrides: &[],
        at: "11:24",
        path: "Resources.Hello.Properties.Environment.Variables.ARN",
        says: "Fn::GetAtt on unknown resource \"Nowhere\"",
        kind: |k| matches!(k, ErrorKind::BadGetAtt(_)),
    },
    Case {
        fixture: "unsupported_intrinsic",
        overrides: &[],
        at: "11:32",
        path: "Resources.Hello.Properties.Environment.Variables.SHARED",
        says: "unsupported intrinsic function !ImportValue (hint: ESB resolves Ref, Fn::Sub",
        kind: |k| matches!(k, ErrorKind::UnsupportedIntrinsic(_)),
    },
    Case {
        fixture: "circular_name",
        overrides: &[],
        at: "5:3",
        path: "Resources.A",
        says: "circular reference: resources depend on each other: A -> B -> A",
        kind: |k| matches!(k, ErrorKind::Circular(_)),
    },
    Case {
        fixture: "circular_dependency",
        overrides: &[],
        at: "5:3",
        path: "Resources.Ping",
        says: "circular reference: resources depend on each other: Ping -> Pong -> Ping",
        kind: |k| matches!(k, ErrorKind::Circular(_)),
    },
    Case {
        fixture: "circular_condition",
        overrides: &[],
        at: "4:27",
        path: "Conditions.IsBig",
        says: "circular reference: Conditions.IsProd -> Conditions.IsBig -> Conditions.IsProd",
        kind: |k| matches!(k, ErrorKind::Circular(_)),
    },
    Case {
        fixture: "unknown_condition",
        overrides: &[],
        at: "9:21",
        path: "Resources.Hello.Properties.Timeout",
        says: "unknown condition \"IsProd\" (hint: declare it under Conditions)",
        kind: |k| matches!(k, ErrorKind::UnknownCondition(_)),
    },
    Case {
        fixture: "missing_code_dir",
        overrides: &[],
        at: "6:7",
        path: "Resources.Hello.Properties.CodeUri",
        says: "code/nowhere does not exist (hint: the path is relative to the template's directory",
        kind: |k| matches!(k, ErrorKind::MissingCodeDir(_)),
    },
    Case {
        fixture: "missing_bootstrap",
        overrides: &[],
        at: "6:7",
        path: "Resources.Hello.Properties.CodeUri",
        says: "code/python has no bootstrap (hint: provided runtimes start CodeUri/bootstrap",
        kind: |k| matches!(k, ErrorKind::MissingBootstrap(_)),
    },
    Case {
        fixture: "bootstrap_not_executable",
        overrides: &[],
        at: "6:7",
        path: "Resources.Hello.Properties.CodeUri",
        says: "not-executable/bootstrap is not executable",
        kind: |k| matches!(k, ErrorKind::MissingBootstrap(_)),
    },
    Case {
        fixture: "unsupported_runtime",
        overrides: &[],
        at: "8:7",
        path: "Resources.Hello.Properties.Runtime",
        says: "unsupported Runtime \"nodejs20.x\" (hint: ESB runs python3.8 to python3.14, provided, provided.al2, provided.al2023)",
        kind: |k| matches!(k, ErrorKind::UnsupportedRuntime(_)),
    },
    Case {
        fixture: "bad_api_path",
        overrides: &[],
        at: "13:13",
        path: "Resources.Hello.Properties.Events.Get.Properties.Path",
        says: "a parameter must be a whole part",
        kind: |k| matches!(k, ErrorKind::BadApiPath(_)),
    },
    Case {
        fixture: "bad_api_method",
        overrides: &[],
        at: "14:13",
        path: "Resources.Hello.Properties.Events.Get.Properties.Method",
        says: "unknown method \"FETCH\" (hint: use one of GET, POST",
        kind: |k| matches!(k, ErrorKind::BadApiMethod(_)),
    },
    Case {
        fixture: "bad_payload_format",
        overrides: &[],
        at: "14:13",
        path: "Resources.Hello.Properties.Events.Get.Properties.PayloadFormatVersion",
        says: "PayloadFormatVersion \"3.0\" is not 1.0 or 2.0",
        kind: |k| matches!(k, ErrorKind::Structure(_)),
    },
    Case {
        fixture: "duplicate_function_name",
        overrides: &[],
        at: "12:7",
        path: "Resources.Hello2.Properties.FunctionName",
        says: "function name \"hello\" is also used by Hello",
        kind: |k| matches!(k, ErrorKind::DuplicateFunctionName { .. }),
    },
    Case {
        fixture: "duplicate_route",
        overrides: &[],
        at: "18:13",
        path: "Resources.Other.Properties.Events.Get.Properties.Path",
        says: "route GET /items is also served by List",
        kind: |k| matches!(k, ErrorKind::DuplicateRoute { .. }),
    },
    Case {
        fixture: "conflicting_route_params",
        overrides: &[],
        at: "14:39",
        path: "Resources.Put.Properties.Events.Put.Properties.Path",
        says: "{key} conflicts with {id} at /items/",
        kind: |k| matches!(k, ErrorKind::BadApiPath(_)),
    },
    Case {
        fixture: "cross_api_route",
        overrides: &[],
        at: "12:44",
        path: "Resources.Hello.Properties.Events.Http.Properties.Path",
        says: "route GET /items is also served by Hello on API ServerlessRestApi (hint: ESB serves every API on one port",
        kind: |k| matches!(k, ErrorKind::DuplicateRoute { .. }),
    },
    Case {
        fixture: "api_ref_missing",
        overrides: &[],
        at: "11:67",
        path: "Resources.Hello.Properties.Events.Get.Properties.RestApiId",
        says: "Ref to unknown \"Nowhere\" (hint: write RestApiId: !Ref MyApi, naming an AWS::Serverless::Api",
        kind: |k| matches!(k, ErrorKind::UnknownRef(t) if t == "Nowhere"),
    },
    Case {
        fixture: "api_ref_wrong_type",
        overrides: &[],
        at: "13:67",
        path: "Resources.Hello.Properties.Events.Get.Properties.RestApiId",
        says: "Http is an AWS::Serverless::HttpApi, not an AWS::Serverless::Api",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "api_stage_name",
        overrides: &[],
        at: "5:3",
        path: "Resources.Shop.Properties",
        says: "StageName is missing (hint: an AWS::Serverless::Api needs StageName",
        kind: |k| matches!(k, ErrorKind::MissingProperty(p) if p == "StageName"),
    },
    Case {
        fixture: "unknown_authorizer",
        overrides: &[],
        at: "22:20",
        path: "Resources.Hello.Properties.Events.Get.Properties.Auth.Authorizer",
        says: "API Shop has no authorizer \"Tokn\" (hint: name one of Token, AWS_IAM, NONE;",
        kind: |k| matches!(k, ErrorKind::UnknownAuthorizer { name, api } if name == "Tokn" && api == "Shop"),
    },
    Case {
        fixture: "authorizer_unknown_function",
        overrides: &[],
        at: "11:13",
        path: "Resources.Http.Properties.Auth.Authorizers.Lambda.FunctionArn",
        says: "no function named \"ghost\" in this template (hint: ESB runs the authorizer",
        kind: |k| matches!(k, ErrorKind::UnknownFunction(n) if n == "ghost"),
    },
    Case {
        fixture: "simple_responses_v1",
        overrides: &[],
        at: "13:13",
        path: "Resources.Http.Properties.Auth.Authorizers.Lambda.EnableSimpleResponses",
        says: "EnableSimpleResponses needs AuthorizerPayloadFormatVersion \"2.0\"",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "reauthorize_every",
        overrides: &[],
        at: "9:22",
        path: "Globals.Api.Auth.Authorizers.Token.Identity.ReauthorizeEvery",
        says: "ReauthorizeEvery must be a whole number of seconds from 0 to 3600, not 3601",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "layer_not_local",
        overrides: &[],
        at: "10:11",
        path: "Resources.Hello.Properties.Layers[0]",
        says: "AWSLambdaPowertoolsPythonV3:7 is not a local layer",
        kind: |k| matches!(k, ErrorKind::BadLayer(_)),
    },
    Case {
        fixture: "reserved_variable",
        overrides: &[],
        at: "11:11",
        path: "Resources.Hello.Properties.Environment.Variables.AWS_REGION",
        says: "AWS_REGION is reserved by Lambda",
        kind: |k| matches!(k, ErrorKind::InvalidValue(_)),
    },
    Case {
        fixture: "parameter_without_value",
        overrides: &[],
        at: "3:3",
        path: "Parameters.Stage",
        says: "has no Default and no override (hint: add a Default, or pass --parameter-overrides Stage=<value>)",
        kind: |k| matches!(k, ErrorKind::MissingParameterValue),
    },
    Case {
        fixture: "parameters",
        overrides: &["Stage=qa"],
        at: "3:3",
        path: "Parameters.Stage",
        says: "\"qa\" is not an allowed value of Stage (hint: use one of dev, prod)",
        kind: |k| matches!(k, ErrorKind::NotAllowed { .. }),
    },
    Case {
        fixture: "parameters",
        overrides: &["Stage=dev", "Nope=1"],
        at: "2:1",
        path: "--parameter-overrides",
        says: "the template has no parameter \"Nope\" (hint: declared parameters: Stage)",
        kind: |k| matches!(k, ErrorKind::UnknownParameter(_)),
    },
    Case {
        fixture: "parameters",
        overrides: &["Stage"],
        at: "",
        path: "--parameter-overrides",
        says: "\"Stage\" is not Key=Value (hint: write each override as Name=value",
        kind: |k| matches!(k, ErrorKind::MalformedOverride(_)),
    },
];

#[test]
fn every_error_names_file_line_column_path_and_hint() {
    let mut failures = Vec::new();
    for c in CASES {
        let file = format!("fixtures/errors/{}.yaml", c.fixture);
        let e = match load(&format!("errors/{}.yaml", c.fixture), c.overrides) {
            Ok(_) => {
                failures.push(format!("{file} {:?}: loaded without error", c.overrides));
                continue;
            }
            Err(e) => e,
        };
        let text = e.to_string();
        let place = if c.at.is_empty() {
            format!("{file}: ")
        } else {
            format!("{file}:{}: ", c.at)
        };
        let head = if c.path.is_empty() {
            place
        } else {
            format!("{place}{}: ", c.path)
        };
        if !text.contains(&head) || !text.contains(c.says) || !(c.kind)(e.kind()) {
            failures.push(format!(
                "{file} {:?}:\n  got:  {text}\n  kind: {:?}\n  want: {head}...{}",
                c.overrides,
                e.kind(),
                c.says
            ));
        }
        if !text.contains("(hint: ") {
            failures.push(format!("{file}: no hint in {text}"));
        }
        assert_eq!(e.path(), c.path, "{file}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_parameters_fixture_is_valid_with_good_overrides() {
    let t = load("errors/parameters.yaml", &["Stage=prod"]).expect("valid");
    assert_eq!(t.functions[0].environment["STAGE"], "prod");
    let t = load(
        "errors/parameters.yaml",
        &["ParameterKey=Stage,ParameterValue=prod"],
    )
    .expect("SAM CLI's long form");
    assert_eq!(t.functions[0].environment["STAGE"], "prod");
}
