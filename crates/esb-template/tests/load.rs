//! Loading SAM templates end to end: features resolve as CloudFormation would, and
//! every invalid template fails with file:line, the property path and a hint.

use std::path::{Path, PathBuf};

use esb_template::{LoadOptions, Runtime, load};

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(template: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("src")).expect("src");
        std::fs::create_dir_all(dir.path().join("layer/python")).expect("layer");
        let rust = dir.path().join("rust");
        std::fs::create_dir_all(&rust).expect("rust");
        std::fs::write(rust.join("bootstrap"), "#!/bin/sh\n").expect("bootstrap");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            rust.join("bootstrap"),
            std::fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
        std::fs::write(dir.path().join("template.yaml"), template).expect("template");
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("template.yaml")
    }

    fn load(
        &self,
        overrides: &[&str],
    ) -> Result<esb_template::Template, esb_template::TemplateError> {
        let opts = LoadOptions {
            parameter_overrides: overrides.iter().map(|s| s.to_string()).collect(),
            stack_name: "shop".into(),
            ..LoadOptions::default()
        };
        load(&self.path(), &opts)
    }
}

const FULL: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  TableName:
    Type: String
    Default: orders
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Mappings:
  Sizes:
    dev: {Memory: 256}
    prod: {Memory: 1024}
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    Environment:
      Variables:
        SHARED: from-globals
        STAGE: !Ref Stage
Resources:
  Common:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: common
      ContentUri: layer
  Api:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: !Sub "${AWS::StackName}-api-${Stage}"
      CodeUri: src
      Handler: app.handler
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      ReservedConcurrentExecutions: 4
      Layers: [!Ref Common]
      Environment:
        Variables:
          TABLE: !Ref TableName
          WORKER_ARN: !GetAtt Worker.Arn
          JOINED: !Join [":", [a, !Ref AWS::Region, !Ref AWS::AccountId]]
          MODE: !If [IsProd, strict, relaxed]
          FIRST: !Select [0, !Split [",", "x,y"]]
          LITERAL: !Sub "${!NotAVar}"
          DROPPED: !If [NotProd, !Ref AWS::NoValue, kept]
      Events:
        Items:
          Type: Api
          Properties: {Path: "/items/{id}", Method: get}
        Proxy:
          Type: Api
          Properties: {Path: "/files/{proxy+}", Method: any}
        Queue:
          Type: SQS
          Properties: {Queue: arn}
      Policies: [AWSLambdaBasicExecutionRole]
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: rust
      Runtime: provided.al2023
      Timeout: 3
  ProdOnly:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties: {CodeUri: src, Handler: app.handler}
  Table:
    Type: AWS::DynamoDB::Table
"#;

#[test]
fn a_full_template_resolves_like_cloudformation() {
    let p = Project::new(FULL);
    let t = p.load(&[]).expect("valid template");
    assert_eq!(t.functions.len(), 2, "ProdOnly is skipped by its condition");
    let api = &t.functions[0];
    assert_eq!(api.name, "shop-api-dev");
    assert_eq!(api.runtime, Runtime::Python { minor: 12 });
    assert_eq!(
        (api.timeout_s, api.memory_mb, api.reserved_concurrency),
        (10, 256, Some(4))
    );
    let env = &api.environment;
    assert_eq!(env["SHARED"], "from-globals");
    assert_eq!(env["STAGE"], "dev");
    assert_eq!(env["TABLE"], "orders");
    assert_eq!(
        env["WORKER_ARN"],
        "arn:aws:lambda:us-east-1:123456789012:function:Worker"
    );
    assert_eq!(env["JOINED"], "a:us-east-1:123456789012");
    assert_eq!(env["MODE"], "relaxed");
    assert_eq!(env["FIRST"], "x");
    assert_eq!(env["LITERAL"], "${NotAVar}");
    assert!(
        !env.contains_key("DROPPED"),
        "AWS::NoValue removes the variable"
    );
    assert_eq!(api.layers.len(), 1);
    assert!(api.layers[0].ends_with("layer"));
    let routes: Vec<(String, String)> = api
        .api_events
        .iter()
        .map(|e| (e.method.clone(), e.path.clone()))
        .collect();
    assert_eq!(
        routes,
        [
            ("GET".into(), "/items/{id}".into()),
            ("ANY".into(), "/files/{proxy+}".into())
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
    let warned: Vec<String> = t.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("Policies") && w.contains("not supported")),
        "{warned:?}"
    );
    assert!(warned.iter().any(|w| w.contains("SQS")), "{warned:?}");
    assert!(
        warned.iter().any(|w| w.contains("AWS::DynamoDB::Table")),
        "{warned:?}"
    );
}

#[test]
fn overrides_change_parameters_and_conditions() {
    let p = Project::new(FULL);
    let t = p.load(&["Stage=prod", "TableName=o2"]).expect("valid");
    assert_eq!(t.functions.len(), 3, "ProdOnly appears in prod");
    let api = &t.functions[0];
    assert_eq!(api.name, "shop-api-prod");
    assert_eq!(api.memory_mb, 1024);
    assert_eq!(api.environment["MODE"], "strict");
    assert_eq!(api.environment["DROPPED"], "kept");
}

fn error_of(template: &str, overrides: &[&str]) -> String {
    Project::new(template)
        .load(overrides)
        .expect_err("invalid")
        .to_string()
}

fn function(props: &str) -> String {
    format!("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n{props}")
}

#[test]
fn invalid_templates_point_at_the_problem() {
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        ("Resources: [\n".into(), vec![], "invalid YAML"),
        ("Description: nothing\n".into(), vec![], "no Resources"),
        (
            function(
                "      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n      Timeout: 901\n",
            ),
            vec![],
            "Resources.Fn.Properties.Timeout: must be a timeout",
        ),
        (
            function("      CodeUri: src\n      Handler: a.b\n      Runtime: nodejs20.x\n"),
            vec![],
            "unsupported Runtime (hint: ESB runs python3.8",
        ),
        (
            function("      CodeUri: nowhere\n      Handler: a.b\n      Runtime: python3.12\n"),
            vec![],
            "Resources.Fn.Properties.CodeUri: code directory",
        ),
        (
            function("      CodeUri: src\n      Runtime: provided.al2023\n"),
            vec![],
            "has no executable bootstrap",
        ),
        (
            function(
                "      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n      Environment: {Variables: {X: !Ref Missing}}\n",
            ),
            vec![],
            "Ref to unknown \"Missing\"",
        ),
        (
            function(
                "      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n      Environment: {Variables: {X: !GetAtt Fn.Nope}}\n",
            ),
            vec![],
            "has no attribute \"Nope\"",
        ),
        (
            function(
                "      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n      Events: {E: {Type: Api, Properties: {Path: items, Method: get}}}\n",
            ),
            vec![],
            "must start with /",
        ),
        (
            function(
                "      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n      Events: {E: {Type: Api, Properties: {Path: /a, Method: fetch}}}\n",
            ),
            vec![],
            "unknown method FETCH",
        ),
        (
            function("      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n"),
            vec!["Nope=1"],
            "the template has no parameter \"Nope\"",
        ),
        (
            function("      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n"),
            vec!["garbage"],
            "is not Key=Value",
        ),
        (
            format!(
                "Parameters:\n  S: {{Type: String, AllowedValues: [a, b]}}\n{}",
                function("      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n")
            ),
            vec!["S=c"],
            "\"c\" is not allowed",
        ),
        (
            format!(
                "Parameters:\n  S: {{Type: String}}\n{}",
                function("      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n")
            ),
            vec![],
            "has no Default and no override",
        ),
        (
            format!(
                "{}  Two:\n    Type: AWS::Serverless::Function\n    Properties: {{FunctionName: Fn, CodeUri: src, Handler: a.b, Runtime: python3.12}}\n",
                function("      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n")
            ),
            vec![],
            "function name \"Fn\" is also used by Fn",
        ),
        (
            format!(
                "{}      Events: {{E: {{Type: Api, Properties: {{Path: /x, Method: get}}}}}}\n  Two:\n    Type: AWS::Serverless::Function\n    Properties: {{CodeUri: src, Handler: a.b, Runtime: python3.12, Events: {{E: {{Type: Api, Properties: {{Path: /x, Method: GET}}}}}}}}\n",
                function("      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n")
            ),
            vec![],
            "route GET /x is also served by Fn",
        ),
    ];
    for (template, overrides, expected) in cases {
        let err = error_of(&template, &overrides);
        assert!(
            err.contains(expected),
            "expected {expected:?} in:\n{err}\nfor:\n{template}"
        );
        assert!(err.contains("template.yaml:"), "names the file: {err}");
    }
}

#[test]
fn errors_carry_the_line() {
    let t = function(
        "      CodeUri: src\n      Handler: a.b\n      Runtime: python3.12\n      MemorySize: 64\n",
    );
    let err = error_of(&t, &[]);
    assert!(
        err.contains("template.yaml:8:"),
        "MemorySize is on line 8: {err}"
    );
    assert!(Path::new("template.yaml").extension().is_some());
}
