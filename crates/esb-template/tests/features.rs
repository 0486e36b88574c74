//! Valid templates resolve the way CloudFormation would deploy them.

mod common;

use std::collections::BTreeMap;

use common::{fixture, load, load_with};
use esb_template::cors::Cors;
use esb_template::{
    ApiEvent, ApiKind, ApiSpec, ApiType, Authorizer, ErrorKind, LambdaAuthorizer, LoadOptions,
    RouteAuth, Runtime, Template,
};

fn env(t: &Template, function: &str) -> BTreeMap<String, String> {
    t.functions
        .iter()
        .find(|f| f.logical_id == function)
        .map(|f| f.environment.clone())
        .unwrap_or_else(|| panic!("no function {function}"))
}

#[test]
fn the_full_template_resolves_every_intrinsic() {
    let t = load("valid/full.yaml", &[]).expect("valid");
    let ids: Vec<&str> = t.functions.iter().map(|f| f.logical_id.as_str()).collect();
    assert_eq!(
        ids,
        ["Api", "Worker"],
        "ProdOnly is skipped by its Condition"
    );

    let api = &t.functions[0];
    assert_eq!(
        api.name, "esb-api-dev",
        "Fn::Sub with AWS::StackName and a parameter"
    );
    assert_eq!(api.runtime, Runtime::Python { minor: 12 }, "from Globals");
    assert_eq!(api.handler.as_deref(), Some("app.handler"));
    assert_eq!(api.timeout_s, 10, "from Globals");
    assert_eq!(api.memory_mb, 256, "Fn::FindInMap");
    assert_eq!(api.reserved_concurrency, Some(4));
    assert_eq!(
        api.code_dir,
        fixture("code/python").canonicalize().expect("dir")
    );
    assert_eq!(
        api.layers,
        [fixture("layers/common").canonicalize().expect("dir")]
    );

    let env = env(&t, "Api");
    let expect = [
        ("SHARED", "from-globals"),
        ("OVERRIDDEN", "from-function"),
        ("STAGE", "dev"),
        ("TABLE", "orders"),
        (
            "WORKER_ARN",
            "arn:aws:lambda:us-east-1:123456789012:function:Worker",
        ),
        (
            "WORKER_ARN_LIST",
            "arn:aws:lambda:us-east-1:123456789012:function:Worker",
        ),
        ("WORKER_NAME", "Worker"),
        ("JOINED", "a:us-east-1:123456789012"),
        ("MODE", "relaxed"),
        ("FIRST_PORT", "80"),
        ("SECOND", "y"),
        ("LITERAL", "${NotAVar}"),
        ("MAPPED", "hello, dev in aws/amazonaws.com"),
        ("ENCODED", "ZXNi"),
        ("VERSION", "1.10"),
        ("ENABLED", "true"),
        ("EITHER", "yes-dev-or-west"),
    ];
    for (k, v) in expect {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert!(
        !env.contains_key("DROPPED"),
        "AWS::NoValue removes the variable"
    );
    assert_eq!(env.len(), expect.len());

    assert_eq!(
        api.api_events,
        [
            ApiEvent {
                logical_id: "Item".into(),
                path: "/items/{id}".into(),
                method: "GET".into(),
                api: ApiKind::Rest,
                api_id: "ServerlessRestApi".into(),
                auth: RouteAuth::default(),
            },
            ApiEvent {
                logical_id: "Files".into(),
                path: "/files/{proxy+}".into(),
                method: "ANY".into(),
                api: ApiKind::Rest,
                api_id: "ServerlessRestApi".into(),
                auth: RouteAuth::default(),
            },
            ApiEvent {
                logical_id: "Root".into(),
                path: "/".into(),
                method: "POST".into(),
                api: ApiKind::Rest,
                api_id: "ServerlessRestApi".into(),
                auth: RouteAuth::default(),
            },
        ]
    );

    let worker = &t.functions[1];
    assert_eq!(
        worker.runtime,
        Runtime::Provided {
            variant: "provided.al2023".into()
        }
    );
    assert_eq!(
        (
            worker.timeout_s,
            worker.memory_mb,
            worker.handler.as_deref()
        ),
        (3, 128, None)
    );
    assert_eq!(
        env_of(&t, "Worker", "PORTS"),
        "80;443",
        "a CommaDelimitedList joined"
    );
}

fn env_of(t: &Template, function: &str, key: &str) -> String {
    env(t, function).get(key).cloned().unwrap_or_default()
}

#[test]
fn unsupported_things_are_warned_about_with_their_place() {
    let t = load("valid/full.yaml", &[]).expect("valid");
    let warnings: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
    let expect = [
        "valid/full.yaml:56:7: Resources.Api.Properties.Policies: is not supported by ESB yet; ignored",
        "valid/full.yaml:90:24: Resources.Api.Properties.Events.Queue.Properties.Queue: queue q is not a queue of this template; ESB polls it only if it exists in ESB's SQS",
        "valid/full.yaml:98:7: Resources.Worker.Properties.Tracing: is not supported by ESB yet; ignored",
    ];
    assert_eq!(warnings.len(), expect.len(), "{warnings:#?}");
    for (w, e) in warnings.iter().zip(expect) {
        assert!(w.ends_with(e), "{w}\n  does not end with\n{e}");
    }
}

#[test]
fn warnings_come_once_per_distinct_property_or_type() {
    let t = load("valid/warnings.yaml", &[]).expect("valid");
    let paths: Vec<&str> = t.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Globals.Function.Tracing",
            "Globals.Api.TracingEnabled",
            "Resources.A.Properties.Policies",
            "Resources.A.Properties.Events.Q.Properties.Queue",
            "Resources.A.Properties.Events.Get.Properties.RequestParameters",
            "Resources.T1",
        ],
        "{:#?}",
        t.warnings
    );
}

#[test]
fn overrides_change_parameters_conditions_and_resources() {
    let opts = LoadOptions {
        parameter_overrides: vec![
            "Stage=prod".into(),
            "TableName=orders-v2".into(),
            "Ports=8080".into(),
        ],
        stack_name: "shop".into(),
        ..LoadOptions::default()
    };
    let t = load_with("valid/full.yaml", &opts).expect("valid");
    let ids: Vec<&str> = t.functions.iter().map(|f| f.logical_id.as_str()).collect();
    assert_eq!(
        ids,
        ["Api", "Worker", "ProdOnly"],
        "ProdOnly exists in prod"
    );
    let api = &t.functions[0];
    assert_eq!(api.name, "shop-api-prod");
    assert_eq!(api.memory_mb, 1024);
    let env = env(&t, "Api");
    assert_eq!(env["MODE"], "strict");
    assert_eq!(env["DROPPED"], "kept");
    assert_eq!(env["TABLE"], "orders-v2");
    let tables: Vec<&str> = t.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        tables,
        ["orders-v2"],
        "the table's TableName follows the parameter"
    );
    assert_eq!(env["FIRST_PORT"], "8080");
    let prod = &t.functions[2];
    assert_eq!(
        (prod.timeout_s, prod.memory_mb),
        (900, 10240),
        "the limits are accepted"
    );
}

#[test]
fn pseudo_parameters_come_from_the_caller() {
    let opts = LoadOptions {
        parameter_overrides: vec!["Stage=prod".into()],
        region: "us-west-2".into(),
        account_id: "000000000000".into(),
        stack_name: "west".into(),
        sqs_url: None,
    };
    let t = load_with("valid/full.yaml", &opts).expect("valid");
    assert_eq!(
        t.functions.len(),
        2,
        "ProdInUsEast is false outside us-east-1"
    );
    let env = env(&t, "Api");
    assert_eq!(
        env["WORKER_ARN"],
        "arn:aws:lambda:us-west-2:000000000000:function:Worker"
    );
    assert_eq!(env["JOINED"], "a:us-west-2:000000000000");
    assert_eq!(env["EITHER"], "yes-dev-or-west", "Fn::Or with the region");
    assert_eq!(t.functions[0].name, "west-api-prod");
}

#[test]
fn long_forms_resolve_like_short_forms() {
    let t = load("valid/long_forms.yaml", &[]).expect("valid");
    let f = &t.functions[0];
    assert_eq!(f.name, "long-d", "Fn::Join of Fn::FindInMap");
    assert_eq!(f.timeout_s, 30, "Fn::If on Fn::Or of conditions");
    assert_eq!(f.runtime, Runtime::Python { minor: 11 });
    let env = env(&t, "Fn");
    for (k, v) in [
        ("ARN", "arn:aws:lambda:us-east-1:123456789012:function:Fn2"),
        (
            "ARN_DOT",
            "arn:aws:lambda:us-east-1:123456789012:function:Fn2",
        ),
        ("SUB", "dev-us-east-1"),
        ("SUB_MAP", "esb!"),
        ("PICK", "c"),
        ("B64", "ZGV2"),
        ("NOT_DEV", "no"),
    ] {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
    }
}

#[test]
fn globals_supply_defaults_that_functions_override() {
    let t = load("valid/globals.yaml", &[]).expect("valid");
    let [defaults, own] = t.functions.as_slice() else {
        panic!("two functions: {:?}", t.functions);
    };
    assert_eq!(
        defaults.runtime,
        Runtime::Provided {
            variant: "provided.al2".into()
        }
    );
    assert_eq!((defaults.timeout_s, defaults.memory_mb), (20, 512));
    assert_eq!(defaults.reserved_concurrency, Some(2));
    assert_eq!(defaults.layers.len(), 1);
    assert_eq!(defaults.environment.len(), 2);

    assert_eq!(own.name, "own");
    assert_eq!(own.runtime, Runtime::Python { minor: 9 });
    assert_eq!(own.timeout_s, 60, "the function's value wins");
    assert_eq!(
        own.memory_mb, 128,
        "AWS::NoValue removes the property: Lambda's default"
    );
    let env: Vec<(&str, &str)> = own
        .environment
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [("B", "own-b"), ("C", "own-c")],
        "merged key by key; A removed"
    );
    let layers: Vec<String> = own
        .layers
        .iter()
        .filter_map(|l| l.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        layers,
        ["common", "python"],
        "Globals' layers first, then the function's"
    );
}

#[test]
fn defaults_of_a_minimal_function() {
    let t = load("valid/minimal.yaml", &[]).expect("valid");
    let f = &t.functions[0];
    assert_eq!(
        (f.name.as_str(), f.timeout_s, f.memory_mb),
        ("Hello", 3, 128)
    );
    assert!(f.environment.is_empty() && f.layers.is_empty() && f.api_events.is_empty());
    assert_eq!(f.reserved_concurrency, None);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn the_model_round_trips_through_json() {
    let t = load("valid/full.yaml", &[]).expect("valid");
    let json = serde_json::to_string(&t).expect("serialize");
    let back: Template = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, t);
    assert!(json.contains("\"Python\":{\"minor\":12}"), "{json}");
}

#[test]
fn an_unreadable_file_is_an_error_without_a_position() {
    let e = load("valid/absent.yaml", &[]).expect_err("absent");
    assert!(matches!(e.kind(), ErrorKind::Unreadable(_)));
    assert_eq!(e.position(), None);
    assert!(
        e.to_string()
            .contains("valid/absent.yaml: cannot read the template"),
        "{e}"
    );
}

#[test]
fn templates_in_memory_resolve_relative_to_their_path() {
    let source = std::fs::read_to_string(fixture("valid/minimal.yaml")).expect("read");
    let t = esb_template::load_str(
        &source,
        &fixture("valid/in-memory.yaml"),
        &LoadOptions::default(),
    )
    .expect("valid");
    assert_eq!(
        t.functions[0].code_dir,
        fixture("code/python").canonicalize().expect("dir")
    );
}

#[test]
fn http_api_events_default_to_payload_2_and_a_catch_all_route() {
    let t = load("valid/http_api.yaml", &[]).expect("valid");
    let event = |id: &str| {
        t.functions[0]
            .api_events
            .iter()
            .find(|e| e.logical_id == id)
            .cloned()
            .unwrap_or_else(|| panic!("no event {id}"))
    };
    let item = event("Item");
    assert_eq!(
        (item.path.as_str(), item.method.as_str(), item.api),
        ("/things/{id}", "GET", ApiKind::Http { payload_v2: true })
    );
    assert_eq!(event("Legacy").api, ApiKind::Http { payload_v2: false });
    assert_eq!(event("Rest").api, ApiKind::Rest);
    assert_eq!(
        t.functions[0].function_url,
        Some(esb_template::UrlAuth::None)
    );
    let all = event("CatchAll");
    assert_eq!(
        (all.path.as_str(), all.method.as_str()),
        (esb_template::DEFAULT_ROUTE, "ANY")
    );
}

fn api<'t>(t: &'t Template, id: &str) -> &'t ApiSpec {
    t.apis
        .iter()
        .find(|a| a.logical_id == id)
        .unwrap_or_else(|| panic!("no API {id}: {:?}", t.apis))
}

fn route(t: &Template, function: &str, event: &str) -> ApiEvent {
    t.functions
        .iter()
        .filter(|f| f.logical_id == function)
        .flat_map(|f| &f.api_events)
        .find(|e| e.logical_id == event)
        .cloned()
        .unwrap_or_else(|| panic!("no event {function}.{event}"))
}

fn lambda(api: &ApiSpec, name: &str) -> LambdaAuthorizer {
    match api.auth.authorizers.get(name) {
        Some(Authorizer::Lambda(l)) => l.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn implicit_apis_exist_for_the_routes_that_use_them() {
    let t = load("valid/http_api.yaml", &[]).expect("valid");
    let ids: Vec<(&str, ApiType, &str)> = t
        .apis
        .iter()
        .map(|a| (a.logical_id.as_str(), a.kind, a.stage_name.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("ServerlessRestApi", ApiType::Rest, "Prod"),
            ("ServerlessHttpApi", ApiType::Http, "$default"),
        ]
    );
    assert_eq!(
        route(&t, "Http", "Rest").api_id,
        esb_template::IMPLICIT_REST_API
    );
    assert_eq!(
        route(&t, "Http", "Item").api_id,
        esb_template::IMPLICIT_HTTP_API
    );
    let minimal = load("valid/minimal.yaml", &[]).expect("valid");
    assert!(minimal.apis.is_empty(), "no routes, no implicit API");
}

#[test]
fn an_explicit_rest_api_with_globals_applied() {
    let t = load("valid/rest_api.yaml", &[]).expect("valid");
    let shop = api(&t, "Shop");
    assert_eq!((shop.kind, shop.stage_name.as_str()), (ApiType::Rest, "v1"));
    assert_eq!(
        shop.cors,
        Some(Cors {
            allow_origins: strings(&["https://shop.example"]),
            allow_methods: strings(&["GET", "POST"]),
            allow_headers: strings(&["Content-Type", "X-Token"]),
            expose_headers: Vec::new(),
            max_age: Some(600),
            allow_credentials: true,
        }),
        "the API's Cors map replaces the global string"
    );
    assert_eq!(
        shop.binary_media_types,
        ["image/png", "*/*"],
        "Globals first, ~1 unescaped, duplicates dropped"
    );
    assert_eq!(shop.auth.default_authorizer.as_deref(), Some("Request"));
    assert!(shop.auth.api_key_required);
    assert_eq!(
        lambda(shop, "Request"),
        LambdaAuthorizer {
            function: "shop-auth".into(),
            request: true,
            identity_headers: strings(&["X-Tenant"]),
            identity_query_strings: strings(&["key"]),
            validation_expression: None,
            ttl_s: 0,
            payload_v2: false,
            simple_responses: false,
        },
        "a !Sub ARN names the function"
    );
    let token = LambdaAuthorizer {
        function: "shop-auth".into(),
        request: false,
        identity_headers: strings(&["X-Token"]),
        identity_query_strings: Vec::new(),
        validation_expression: Some("^Bearer .+$".into()),
        ttl_s: 60,
        payload_v2: false,
        simple_responses: false,
    };
    assert_eq!(lambda(shop, "Token"), token, "merged from Globals.Api.Auth");

    let implicit = api(&t, "ServerlessRestApi");
    assert_eq!(implicit.stage_name, "Prod");
    assert_eq!(
        implicit
            .cors
            .as_ref()
            .map(|c| (&c.allow_origins, c.allow_methods.len())),
        Some((&strings(&["*"]), 0)),
        "Globals.Api.Cors: \"'*'\""
    );
    assert_eq!(implicit.binary_media_types, ["image/png"]);
    assert_eq!(lambda(implicit, "Token"), token);
    assert_eq!(implicit.auth.default_authorizer, None);

    let auth = |event: &str| route(&t, "Orders", event).auth;
    assert_eq!(route(&t, "Orders", "List").api_id, "Shop");
    assert_eq!(auth("List"), RouteAuth::default(), "the API's defaults");
    assert_eq!(
        auth("Create"),
        RouteAuth {
            authorizer: Some("Token".into()),
            api_key_required: Some(false),
            scopes: Vec::new(),
        },
        "{{Ref: Shop}} and route-level ApiKeyRequired"
    );
    assert_eq!(auth("Health").authorizer.as_deref(), Some("NONE"));
    assert_eq!(auth("Legacy").authorizer.as_deref(), Some("AWS_IAM"));
    assert_eq!(route(&t, "Orders", "Legacy").api_id, "ServerlessRestApi");
    let paths: Vec<&str> = t.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["Resources.Shop.Properties.MethodSettings"]);
}

#[test]
fn an_explicit_http_api_with_jwt_and_lambda_authorizers() {
    let t = load("valid/http_auth.yaml", &[]).expect("valid");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let http = api(&t, "Api");
    assert_eq!(
        (http.kind, http.stage_name.as_str()),
        (ApiType::Http, "live")
    );
    let cors = http.cors.clone().expect("cors");
    assert_eq!(
        (cors.allow_origins, cors.allow_methods, cors.max_age),
        (
            strings(&["https://app.example", "https://admin.example"]),
            strings(&["GET"]),
            Some(60)
        ),
        "Globals.HttpApi.CorsConfiguration merged as SAM merges: lists concatenate"
    );
    assert_eq!(http.auth.default_authorizer.as_deref(), Some("Jwt"));
    assert_eq!(
        http.auth.authorizers.get("Jwt"),
        Some(&Authorizer::Jwt {
            issuer: "https://issuer.example".into(),
            audience: strings(&["app"]),
            identity_source: "$request.header.Authorization".into(),
        })
    );
    let v2 = LambdaAuthorizer {
        function: "Authorizer".into(),
        request: true,
        identity_headers: strings(&["Authorization"]),
        identity_query_strings: Vec::new(),
        validation_expression: None,
        ttl_s: 30,
        payload_v2: true,
        simple_responses: true,
    };
    assert_eq!(lambda(http, "Lambda"), v2, "from Globals.HttpApi.Auth");
    let legacy = lambda(http, "Legacy");
    assert_eq!(
        (legacy.payload_v2, legacy.simple_responses, legacy.ttl_s),
        (false, false, 0),
        "payload 1.0; HTTP APIs cache nothing by default"
    );

    let implicit = api(&t, "ServerlessHttpApi");
    assert_eq!(implicit.cors, t.http_api_cors, "Globals.HttpApi applies");
    assert_eq!(lambda(implicit, "Lambda"), v2);

    let auth = |event: &str| route(&t, "Orders", event).auth;
    assert_eq!(
        auth("List"),
        RouteAuth {
            authorizer: None,
            api_key_required: None,
            scopes: strings(&["orders/read"]),
        },
        "the default JWT authorizer's own scopes"
    );
    assert_eq!(
        auth("Create").scopes,
        ["orders/write"],
        "the event's scopes win"
    );
    assert_eq!(
        auth("Health"),
        RouteAuth {
            authorizer: Some("NONE".into()),
            ..RouteAuth::default()
        }
    );
    assert_eq!(auth("Old").authorizer.as_deref(), Some("Legacy"));
    let public = route(&t, "Orders", "Public");
    assert_eq!(
        (public.api_id.as_str(), public.auth.authorizer.as_deref()),
        ("ServerlessHttpApi", Some("Lambda"))
    );
}

#[test]
fn apis_round_trip_through_json() {
    for fixture in ["valid/rest_api.yaml", "valid/http_auth.yaml"] {
        let t = load(fixture, &[]).expect("valid");
        let json = serde_json::to_string(&t).expect("serialize");
        let back: Template = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, t, "{fixture}");
    }
}
