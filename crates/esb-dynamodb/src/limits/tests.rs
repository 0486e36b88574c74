//! The limits, without the engine: the tokenizer, each check, the request reader, the
//! guard's speed and the cost on a request with nothing to check.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::expression::{
    self, ConditionKind, Kind, Placeholder, Placeholders, Token, Unreadable, Verdict,
};
use super::{LimitError, check};
use crate::operations::Operation;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

fn kinds(src: &str) -> Vec<Kind> {
    expression::tokenize(src)
        .unwrap()
        .into_iter()
        .map(|t| t.kind)
        .collect()
}

fn placeholders(names: &[(&str, &str)], values: &[(&str, Placeholder)]) -> Placeholders {
    Placeholders {
        names: names
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        values: values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// `:v` (a number), `:s` (a string) and `:t` (`{"S": "XX"}`), no names.
fn values() -> Placeholders {
    placeholders(
        &[],
        &[
            (":v", Placeholder::Other),
            (":s", Placeholder::S("x".into())),
            (":t", Placeholder::S("XX".into())),
        ],
    )
}

fn condition(src: &str) -> Verdict {
    expression::check_condition(src, ConditionKind::Condition, &values())
}

fn refuse(message: &str) -> Verdict {
    Verdict::Refuse(message.to_string())
}

fn guard(message: &str) -> Verdict {
    Verdict::Guard(message.to_string())
}

fn validation(message: &str) -> Result<(), LimitError> {
    Err(LimitError::Validation(message.to_string()))
}

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

fn put(condition: &str) -> Vec<u8> {
    body(json!({
        "TableName": "tbl",
        "Item": {"pk": {"S": "a"}},
        "ConditionExpression": condition,
        "ExpressionAttributeValues": {":v": {"N": "1"}},
    }))
}

// ---------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------

#[test]
fn tokens_of_a_condition() {
    use Kind::*;
    assert_eq!(
        kinds("#s = :v AND a.b[10] <> size(c) OR x<=:w"),
        vec![
            Name, Eq, Value, And, Ident, Dot, Ident, LBracket, Number, RBracket, Ne, Ident, LParen,
            Ident, RParen, Or, Ident, Le, Value,
        ]
    );
    assert_eq!(
        kinds("a<b>c>=d<e"),
        vec![Ident, Lt, Ident, Gt, Ident, Ge, Ident, Lt, Ident]
    );
    assert_eq!(
        kinds("SET a = b + :c - :d"),
        vec![Set, Ident, Eq, Ident, Plus, Value, Minus, Value]
    );
}

#[test]
fn keywords_are_case_insensitive_and_names_are_not_keywords() {
    use Kind::*;
    assert_eq!(
        kinds("a and B Or not c between d In e remove Add delete"),
        vec![
            Ident, And, Ident, Or, Not, Ident, Between, Ident, In, Ident, Remove, Add, Delete
        ]
    );
    assert_eq!(kinds("#and = :or"), vec![Name, Eq, Value]);
    assert_eq!(kinds("android"), vec![Ident]);
}

#[test]
fn the_tokenizer_skips_ascii_whitespace_only() {
    use Kind::*;
    assert_eq!(kinds("a\t=\n:v\x0B\x0C\r"), vec![Ident, Eq, Value]);
    // A no-break space is a character the tokenizer cannot read, as DynamoDB has it.
    let Err((before, bad)) = expression::tokenize("a\u{a0}= :v") else {
        panic!("read a no-break space")
    };
    assert_eq!(before.len(), 1);
    assert_eq!(bad, Unreadable { start: 1, end: 3 });
}

#[test]
fn a_list_index_is_read_right_after_its_bracket_and_without_leading_zeros() {
    let tokens = expression::tokenize("l[12]").unwrap();
    assert_eq!(
        tokens.get(2),
        Some(&Token {
            kind: Kind::Number,
            start: 2,
            end: 4
        })
    );
    // `[00]`: the 0 alone, then a 0 that is no token.
    let Err((before, bad)) = expression::tokenize("l[00]") else {
        panic!("read l[00]")
    };
    assert_eq!(before.len(), 3);
    assert_eq!(bad, Unreadable { start: 3, end: 4 });
    // `[ 1]`: no number after the space either.
    assert!(expression::tokenize("l[ 1]").is_err());
}

#[test]
fn unreadable_characters_and_empty_placeholders() {
    for (src, at) in [
        ("a = :v !", 7),
        ("#", 0),
        ("a = :", 4),
        ("a = 5", 4),
        ("é", 0),
    ] {
        let Err((_, bad)) = expression::tokenize(src) else {
            panic!("read {src}")
        };
        assert_eq!(bad.start, at, "{src}");
    }
}

// ---------------------------------------------------------------------------------
// 1. The parenthesis guard
// ---------------------------------------------------------------------------------

#[test]
fn the_paren_depth_counts_open_parentheses_only() {
    assert_eq!(expression::paren_depth("((a) AND (b))"), 2);
    assert_eq!(expression::paren_depth(")))((("), 3);
    assert_eq!(expression::paren_depth("a = :v"), 0);
}

#[test]
fn a_shallow_malformed_expression_is_left_to_the_engine() {
    for src in [
        "(((a = :v",
        "a = :v)",
        "((((",
        "(a = :v !",
        "((a = :v))",
        "status = :v",
        "foo(a)",
    ] {
        assert_eq!(condition(src), Verdict::Malformed, "{src}");
    }
}

#[test]
fn a_deep_expression_is_refused_with_the_engines_shallow_wording() {
    let deep = "(".repeat(301);
    // These messages are the engine's for the shallow expressions above (see
    // engine_tests, which compares them against the engine itself).
    let cases = [
        (
            format!("{deep}a = :v"),
            r#"Syntax error; token: "<EOF>", near: ":v""#,
        ),
        (
            "(".repeat(4096),
            r#"Syntax error; token: "<EOF>", near: "(""#,
        ),
        (
            format!("{deep}a = :v !"),
            r#"Syntax error; token: "!", near: ":v !""#,
        ),
        (
            format!("{deep}a = :v) b"),
            r#"Syntax error; token: "b", near: ") b""#,
        ),
        (
            format!("{deep}attribute_exists(a,)"),
            r#"Syntax error; token: ")", near: ",)""#,
        ),
        (
            format!("{deep}status = :v"),
            "Attribute name is a reserved keyword; reserved keyword: status",
        ),
        (
            format!("{deep}foo(a)"),
            "Invalid function name; function: foo",
        ),
        (
            format!("{deep}a = :v{}", ")".repeat(301)),
            "The expression has redundant parentheses;",
        ),
    ];
    for (src, message) in cases {
        assert_eq!(condition(&src), guard(message), "{src}");
    }
}

#[test]
fn three_hundred_levels_are_handed_on() {
    // Unbalanced but at the bound: the engine answers it (and recurses 300 times).
    assert_eq!(
        condition(&format!("{}a = :v", "(".repeat(300))),
        Verdict::Malformed
    );
}

#[test]
fn the_guard_holds_whatever_else_the_request_holds() {
    // A malformed UpdateExpression would otherwise leave the request to the engine.
    let b = body(json!({
        "TableName": "tbl",
        "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET",
        "ConditionExpression": "(".repeat(4096),
    }));
    assert_eq!(
        check(Operation::UpdateItem, &b),
        validation(
            r#"1 validation error detected: Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "(""#
        )
    );
}

#[test]
fn the_guard_refuses_a_4096_byte_run_of_parentheses_in_well_under_a_millisecond() {
    let b = put(&"(".repeat(4096));
    let mut fastest = Duration::MAX;
    for _ in 0..20 {
        let started = Instant::now();
        let answer = check(Operation::PutItem, &b);
        fastest = fastest.min(started.elapsed());
        assert!(answer.is_err());
    }
    eprintln!("4096 `(`: refused in {fastest:?}");
    assert!(fastest < Duration::from_millis(1), "{fastest:?}");
}

#[test]
fn the_guard_covers_every_condition_like_field_and_place() {
    let deep = "(".repeat(1000);
    let key = json!({"pk": {"S": "a"}});
    let cases = [
        (
            Operation::DeleteItem,
            json!({"TableName": "tbl", "Key": key, "ConditionExpression": deep}),
            "1 validation error detected: Invalid ConditionExpression",
        ),
        (
            Operation::Query,
            json!({"TableName": "tbl", "KeyConditionExpression": deep}),
            "Invalid KeyConditionExpression",
        ),
        (
            Operation::Query,
            json!({"TableName": "tbl", "KeyConditionExpression": "pk = :v", "FilterExpression": deep}),
            "Invalid FilterExpression",
        ),
        (
            Operation::Scan,
            json!({"TableName": "tbl", "FilterExpression": deep}),
            "Invalid FilterExpression",
        ),
        (
            Operation::TransactWriteItems,
            json!({"TransactItems": [{"Put": {"TableName": "tbl", "Item": key}}, {"ConditionCheck": {"TableName": "tbl", "Key": key, "ConditionExpression": deep}}]}),
            "Invalid ConditionExpression",
        ),
        (
            Operation::TransactWriteItems,
            json!({"TransactItems": [{"Update": {"TableName": "tbl", "Key": key, "UpdateExpression": "SET a = :v", "ConditionExpression": deep}}]}),
            "Invalid ConditionExpression",
        ),
        (
            Operation::SearchVectors,
            json!({"TableName": "tbl", "SearchConditionExpression": deep}),
            "Invalid SearchConditionExpression",
        ),
    ];
    for (op, b, prefix) in cases {
        let Err(LimitError::Validation(message)) = check(op, &body(b)) else {
            panic!("{} let a deep expression through", op.name())
        };
        assert_eq!(
            message,
            format!(r#"{prefix}: Syntax error; token: "<EOF>", near: "(""#)
        );
    }
}

#[test]
fn an_escaped_key_does_not_get_past_the_guard() {
    let b = format!(
        r#"{{"TableName":"tbl","Item":{{"pk":{{"S":"a"}}}},"Condition\u0045xpression":"{}"}}"#,
        "(".repeat(2000)
    );
    assert!(check(Operation::PutItem, b.as_bytes()).is_err());
}

#[test]
fn every_copy_of_a_repeated_field_is_checked() {
    let b = format!(
        r#"{{"TableName":"tbl","ConditionExpression":"a = :v","ConditionExpression":"{}"}}"#,
        "(".repeat(2000)
    );
    assert!(check(Operation::PutItem, b.as_bytes()).is_err());
}

#[test]
fn nothing_else_in_the_body_can_make_the_reader_give_up() {
    let deep_value = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let b = format!(
        r#"{{"TableName":7,"Item":{deep_value},"ExpressionAttributeNames":[1],"ExpressionAttributeValues":{{":v":{{"S":{{"x":[]}}}}}},"ReturnValues":null,"ConditionExpression":"{}"}}"#,
        "(".repeat(2000)
    );
    assert!(check(Operation::PutItem, b.as_bytes()).is_err());
}

// ---------------------------------------------------------------------------------
// 2. Operators
// ---------------------------------------------------------------------------------

#[test]
fn three_hundred_operators_pass_and_the_301st_is_refused() {
    let too_many = "The expression contains too many operators; operator count: 301";
    // 150 comparisons and 149 ORs: 299.
    assert_eq!(condition(&vec!["a = :v"; 150].join(" OR ")), Verdict::Pass);
    // 151 and 150: 301.
    assert_eq!(
        condition(&vec!["a = :v"; 151].join(" OR ")),
        refuse(too_many)
    );
    // 299 NOTs and a comparison: 300. One more NOT: 301. The count stays 301 however
    // many there are.
    assert_eq!(
        condition(&format!("{}a = :v", "NOT ".repeat(299))),
        Verdict::Pass
    );
    assert_eq!(
        condition(&format!("{}a = :v", "NOT ".repeat(300))),
        refuse(too_many)
    );
    assert_eq!(
        condition(&format!("{}a = :v", "NOT ".repeat(1000))),
        refuse(too_many)
    );
    // Functions count, size included, and BETWEEN's AND does not: six a group, and an
    // OR between groups. 43 groups: 300.
    let group = "attribute_exists(a) AND size(b) > :v AND c BETWEEN :v AND :v";
    assert_eq!(condition(&vec![group; 43].join(" OR ")), Verdict::Pass);
    assert_eq!(condition(&vec![group; 44].join(" OR ")), refuse(too_many));
}

#[test]
fn a_key_condition_is_held_to_the_operator_limit() {
    let kce = |src: &str| {
        expression::check_condition(src, ConditionKind::KeyCondition, &Placeholders::default())
    };
    assert_eq!(kce("pk = :v AND sk > :w"), Verdict::Pass);
    assert_eq!(
        kce(&vec!["pk = :v"; 151].join(" AND ")),
        refuse("The expression contains too many operators; operator count: 301")
    );
    // Its other rules are the engine's.
    assert_eq!(kce("pk = pk"), Verdict::Pass);
}

#[test]
fn deep_valid_nesting_is_refused_by_its_operator_count() {
    let src = format!("{}a = :v{}", "NOT (".repeat(301), ")".repeat(301));
    assert_eq!(
        condition(&src),
        guard("The expression contains too many operators; operator count: 301")
    );
}

// ---------------------------------------------------------------------------------
// 3. IN operands
// ---------------------------------------------------------------------------------

#[test]
fn in_takes_up_to_100_operands() {
    let list = |n: usize| format!("a IN ({})", vec![":v"; n].join(", "));
    assert_eq!(condition(&list(100)), Verdict::Pass);
    assert_eq!(
        condition(&list(101)),
        refuse("The IN operator is provided with too many operands; number of operands: 101")
    );
    assert_eq!(
        condition(&list(150)),
        refuse("The IN operator is provided with too many operands; number of operands: 150")
    );
}

// ---------------------------------------------------------------------------------
// 4. Repeated operands
// ---------------------------------------------------------------------------------

#[test]
fn a_first_operand_repeated_is_refused_naming_the_resolved_path() {
    let message = |op: &str, path: &str| {
        refuse(&format!(
            "The first operand must be distinct from the remaining operands for this operator or function; operator: {op}, first operand: {path}"
        ))
    };
    let names = placeholders(&[("#x", "a"), ("#y", "y")], &[(":v", Placeholder::Other)]);
    let with_names = |src: &str| expression::check_condition(src, ConditionKind::Condition, &names);
    assert_eq!(condition("a = a"), message("=", "[a]"));
    assert_eq!(condition("x = :v AND a.b <> a.b"), message("<>", "[a, b]"));
    assert_eq!(condition("a[0].b >= a[0].b"), message(">=", "[a, [0], b]"));
    assert_eq!(condition("contains(a, a)"), message("contains", "[a]"));
    assert_eq!(
        condition("begins_with(l[1], l[1])"),
        message("begins_with", "[l, [1]]")
    );
    assert_eq!(with_names("#x = a"), message("=", "[a]"));
    assert_eq!(with_names("#x.#y < a.y"), message("<", "[a, y]"));
    assert_eq!(with_names("#y = y"), message("=", "[y]"));
    // Not the same path, or not paths: nothing to refuse.
    for src in [
        "a = b",
        "a.b = a",
        "a[0] = a[1]",
        ":v = :v",
        "size(a) = size(a)",
        "contains(a, b)",
    ] {
        assert_eq!(condition(src), Verdict::Pass, "{src}");
    }
    // An undefined name is the engine's to report.
    assert_eq!(condition("#u = #u"), Verdict::Pass);
}

// ---------------------------------------------------------------------------------
// 5. attribute_type names
// ---------------------------------------------------------------------------------

#[test]
fn attribute_type_takes_dynamodbs_type_names_only() {
    assert_eq!(
        condition("attribute_type(a, :t)"),
        refuse(
            "Invalid attribute type name found; type: XX, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
        )
    );
    for name in ["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"] {
        let p = placeholders(&[], &[(":t", Placeholder::S(name.into()))]);
        let verdict =
            expression::check_condition("attribute_type(a, :t)", ConditionKind::Condition, &p);
        assert_eq!(verdict, Verdict::Pass, "{name}");
    }
    // Not a string (the engine's operand-type error), or not defined (the engine's).
    assert_eq!(condition("attribute_type(a, :v)"), Verdict::Pass);
    assert_eq!(condition("attribute_type(a, :undefined)"), Verdict::Pass);
}

#[test]
fn findings_are_reported_in_the_order_the_expression_reads() {
    assert_eq!(
        condition("attribute_type(a, :t) AND b = b"),
        refuse(
            "Invalid attribute type name found; type: XX, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
        )
    );
    // An undefined placeholder first: the engine's.
    assert_eq!(condition("c = :undefined AND b = b"), Verdict::Pass);
}

#[test]
fn a_condition_path_is_held_to_32_levels() {
    let path = |levels: usize| format!("a{}", ".b".repeat(levels - 1));
    assert_eq!(
        condition(&format!("attribute_exists({})", path(32))),
        Verdict::Pass
    );
    assert_eq!(
        condition(&format!("attribute_exists({})", path(33))),
        refuse("The document path has too many nesting levels; nesting levels: 33")
    );
    assert_eq!(
        condition(&format!("{} = :v", path(40))),
        refuse("The document path has too many nesting levels; nesting levels: 40")
    );
}

// ---------------------------------------------------------------------------------
// 6. Projection
// ---------------------------------------------------------------------------------

fn projection(src: &str) -> Verdict {
    let p = placeholders(&[("#n", "a")], &[]);
    expression::check_projection(src, &p)
}

#[test]
fn a_projection_path_is_held_to_32_levels() {
    assert_eq!(projection(&format!("a{}", ".b".repeat(31))), Verdict::Pass);
    assert_eq!(
        projection(&format!("x, a{}", ".b".repeat(32))),
        refuse("The document path has too many nesting levels; nesting levels: 33")
    );
    assert_eq!(
        projection(&format!("l{}", "[0]".repeat(32))),
        refuse("The document path has too many nesting levels; nesting levels: 33")
    );
}

#[test]
fn conflicting_projection_paths_are_refused_and_overlaps_left_to_the_engine() {
    let conflict = |one: &str, two: &str| {
        refuse(&format!(
            "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
        ))
    };
    assert_eq!(projection("a.b, a[0]"), conflict("[a, b]", "[a, [0]]"));
    assert_eq!(
        projection("a.b[1], a.b.c"),
        conflict("[a, b, [1]]", "[a, b, c]")
    );
    assert_eq!(
        projection("x, #n[2], y, a.c"),
        conflict("[a, [2]]", "[a, c]")
    );
    // Overlaps: the engine's (it words them as DynamoDB does).
    for src in ["a, a.b", "a.b, a", "a[1], a[1]", "a, a.b[2].c", "#n, a[0]"] {
        assert_eq!(projection(src), Verdict::Pass, "{src}");
    }
    // Neither.
    for src in [
        "a, b",
        "a.b, a.c",
        "a[1], a[2]",
        "a.b, a.c[2]",
        "a[0].b, a[1].c",
    ] {
        assert_eq!(projection(src), Verdict::Pass, "{src}");
    }
    // The first clashing pair decides: an overlap before a conflict is the engine's.
    assert_eq!(projection("a, a.b, c.d, c[0]"), Verdict::Pass);
    assert_eq!(
        projection("c.d, c[0], a, a.b"),
        conflict("[c, d]", "[c, [0]]")
    );
}

#[test]
fn a_malformed_projection_is_left_to_the_engine() {
    for src in ["", "a,", ",a", "a b", "a.status", "a[", "a = b"] {
        assert_eq!(projection(src), Verdict::Malformed, "{src}");
    }
    assert_eq!(projection("#undefined, a[0], a.b"), Verdict::Pass);
}

// ---------------------------------------------------------------------------------
// 7. Update paths
// ---------------------------------------------------------------------------------

fn update(src: &str) -> Verdict {
    let p = placeholders(
        &[("#n", "a")],
        &[(":v", Placeholder::Other), (":l", Placeholder::Other)],
    );
    expression::check_update(src, &p)
}

#[test]
fn an_update_path_is_held_to_32_levels() {
    let deep = format!("a{}", ".b".repeat(32));
    let message = refuse("The document path has too many nesting levels; nesting levels: 33");
    assert_eq!(update(&format!("SET {deep} = :v")), message);
    assert_eq!(update(&format!("REMOVE x, {deep}")), message);
    assert_eq!(update(&format!("SET x = {deep}")), message);
    assert_eq!(
        update(&format!("SET x = if_not_exists({deep}, :v)")),
        message
    );
    assert_eq!(update(&format!("ADD {deep} :v")), message);
    assert_eq!(update(&format!("SET x = :v DELETE {deep} :v")), message);
    assert_eq!(
        update(&format!("SET a{} = :v", ".b".repeat(31))),
        Verdict::Pass
    );
}

#[test]
fn the_update_grammar_is_the_engines() {
    for src in [
        "SET a = :v",
        "SET a = a + :v, b = :v - c",
        "SET l = list_append(if_not_exists(l, :l), :l)",
        "SET l = list_append(list_append(:l, l), (:l))",
        "SET a = (b + :v)",
        "set a = :v remove b add c :v delete d :v",
        "REMOVE a[0], #n.b",
    ] {
        assert_eq!(update(src), Verdict::Pass, "{src}");
    }
    for src in [
        "",
        "SET",
        "SET a",
        "SET a = ",
        "SET a = :v SET b = :v",
        "SET a = foo(b)",
        "SET a = if_not_exists(:v, :v)",
        "SET a = list_append(:l)",
        "SET a = (:v",
        "SET a = :v)",
        "ADD a b",
        "REMOVE status",
        "a = :v",
    ] {
        assert_eq!(update(src), Verdict::Malformed, "{src}");
    }
}

#[test]
fn an_update_fault_the_engine_reports_first_is_left_to_it() {
    let deep = format!("a{}", ".b".repeat(32));
    // Undefined placeholders, overlapping or conflicting targets.
    assert_eq!(update(&format!("SET {deep} = :undefined")), Verdict::Pass);
    assert_eq!(update(&format!("SET {deep} = #undefined")), Verdict::Pass);
    assert_eq!(update(&format!("SET {deep} = :v, a = :v")), Verdict::Pass);
    assert_eq!(
        update(&format!("SET {deep} = :v REMOVE a[0]")),
        Verdict::Pass
    );
}

#[test]
fn a_deep_update_is_read_without_recursion() {
    let grouped = format!("SET a = {}:v{}", "(".repeat(2000), ")".repeat(2000));
    assert_eq!(update(&grouped), Verdict::Pass);
    let calls = format!(
        "SET a = {}:l{}",
        "list_append(:l, ".repeat(250),
        ")".repeat(250)
    );
    assert_eq!(update(&calls), Verdict::Pass);
    assert_eq!(
        update(&format!("SET a = {}", "(".repeat(4000))),
        Verdict::Malformed
    );
}

// ---------------------------------------------------------------------------------
// The request: where expressions are, envelopes, fast paths
// ---------------------------------------------------------------------------------

#[test]
fn a_single_item_write_answers_in_the_envelope_and_others_bare() {
    let distinct = "The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]";
    assert_eq!(
        check(Operation::PutItem, &put("a = a")),
        validation(&format!(
            "1 validation error detected: Invalid ConditionExpression: {distinct}"
        ))
    );
    let key = json!({"pk": {"S": "a"}});
    let scan = body(json!({"TableName": "tbl", "FilterExpression": "a = a"}));
    assert_eq!(
        check(Operation::Scan, &scan),
        validation(&format!("Invalid FilterExpression: {distinct}"))
    );
    let transact = body(
        json!({"TransactItems": [{"ConditionCheck": {"TableName": "tbl", "Key": key, "ConditionExpression": "a = a"}}]}),
    );
    assert_eq!(
        check(Operation::TransactWriteItems, &transact),
        validation(&format!("Invalid ConditionExpression: {distinct}"))
    );
    let deep = format!("SET a{} = :v", ".b".repeat(32));
    let nesting = "The document path has too many nesting levels; nesting levels: 33";
    let update = body(
        json!({"TableName": "tbl", "Key": key, "UpdateExpression": deep, "ExpressionAttributeValues": {":v": {"N": "1"}}}),
    );
    assert_eq!(
        check(Operation::UpdateItem, &update),
        validation(&format!(
            "1 validation error detected: Invalid UpdateExpression: {nesting}"
        ))
    );
    let transact = body(
        json!({"TransactItems": [{"Update": {"TableName": "tbl", "Key": key, "UpdateExpression": deep, "ExpressionAttributeValues": {":v": {"N": "1"}}}}]}),
    );
    assert_eq!(
        check(Operation::TransactWriteItems, &transact),
        validation(&format!("Invalid UpdateExpression: {nesting}"))
    );
}

#[test]
fn projections_are_read_wherever_the_engine_reads_them() {
    let conflict = "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [0]]";
    let key = json!({"pk": {"S": "a"}});
    let cases = [
        (
            Operation::GetItem,
            json!({"TableName": "tbl", "Key": key, "ProjectionExpression": "a.b, a[0]"}),
        ),
        (
            Operation::Query,
            json!({"TableName": "tbl", "KeyConditionExpression": "pk = :v", "ProjectionExpression": "a.b, a[0]", "ExpressionAttributeValues": {":v": {"S": "a"}}}),
        ),
        (
            Operation::Scan,
            json!({"TableName": "tbl", "ProjectionExpression": "a.b, a[0]"}),
        ),
        (
            Operation::BatchGetItem,
            json!({"RequestItems": {"one": {"Keys": [key]}, "two": {"Keys": [key], "ProjectionExpression": "a.b, a[0]"}}}),
        ),
        (
            Operation::TransactGetItems,
            json!({"TransactItems": [{"Get": {"TableName": "tbl", "Key": key, "ProjectionExpression": "a.b, a[0]"}}]}),
        ),
    ];
    for (op, b) in cases {
        assert_eq!(check(op, &body(b)), validation(conflict), "{}", op.name());
    }
}

#[test]
fn a_field_the_engine_does_not_read_there_is_not_checked() {
    let key = json!({"pk": {"S": "a"}});
    // A Put has no UpdateExpression, a Scan no KeyConditionExpression, a GetItem no
    // ConditionExpression.
    let transact = body(
        json!({"TransactItems": [{"Put": {"TableName": "tbl", "Item": key, "UpdateExpression": format!("SET a{} = :v", ".b".repeat(40))}}]}),
    );
    assert_eq!(check(Operation::TransactWriteItems, &transact), Ok(()));
    let scan = body(json!({"TableName": "tbl", "KeyConditionExpression": "(".repeat(1000)}));
    assert_eq!(check(Operation::Scan, &scan), Ok(()));
    let get = body(json!({"TableName": "tbl", "Key": key, "ConditionExpression": "a = a"}));
    assert_eq!(check(Operation::GetItem, &get), Ok(()));
    // Nor is anything on an operation without expressions.
    let batch = body(
        json!({"RequestItems": {"tbl": [{"PutRequest": {"Item": key}}]}, "ConditionExpression": "(".repeat(1000)}),
    );
    assert_eq!(check(Operation::BatchWriteItem, &batch), Ok(()));
}

#[test]
fn an_updates_expressions_are_held_in_the_engines_order() {
    // The engine reads the UpdateExpression before the ConditionExpression.
    let b = body(json!({
        "TableName": "tbl",
        "Key": {"pk": {"S": "a"}},
        "ConditionExpression": "a = a",
        "UpdateExpression": format!("SET a{} = :v", ".b".repeat(32)),
        "ExpressionAttributeValues": {":v": {"N": "1"}},
    }));
    assert_eq!(
        check(Operation::UpdateItem, &b),
        validation(
            "1 validation error detected: Invalid UpdateExpression: The document path has too many nesting levels; nesting levels: 33"
        )
    );
}

#[test]
fn a_malformed_expression_leaves_the_whole_request_to_the_engine() {
    // DynamoDB reports the UpdateExpression's syntax error before any limit.
    let b = body(json!({
        "TableName": "tbl",
        "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET = :v",
        "ConditionExpression": "a = a",
    }));
    assert_eq!(check(Operation::UpdateItem, &b), Ok(()));
    // So do 301 operators: only a run of `(` past the bound is answered regardless.
    let b = body(json!({
        "TableName": "tbl",
        "Key": {"pk": {"S": "a"}},
        "UpdateExpression": "SET = :v",
        "ConditionExpression": format!("{}a = :v", "NOT ".repeat(301)),
    }));
    assert_eq!(check(Operation::UpdateItem, &b), Ok(()));
}

#[test]
fn what_is_not_json_or_not_a_string_is_the_engines() {
    assert_eq!(
        check(Operation::PutItem, b"{\"ConditionExpression\": \"a = a\""),
        Ok(())
    );
    assert_eq!(
        check(Operation::PutItem, b"{\"ConditionExpression\": 5}"),
        Ok(())
    );
    assert_eq!(
        check(
            Operation::PutItem,
            b"{\"ConditionExpression\": [\"a = a\"]}"
        ),
        Ok(())
    );
    assert_eq!(
        check(Operation::PutItem, b"[\"ConditionExpression\"]"),
        Ok(())
    );
    assert_eq!(
        check(Operation::PutItem, b"\xff\"ConditionExpression\""),
        Ok(())
    );
    assert_eq!(check(Operation::PutItem, b""), Ok(()));
    // A value with two types, or the names as a list: the engine refuses the request.
    let b = body(
        json!({"ConditionExpression": "attribute_type(a, :t)", "ExpressionAttributeValues": {":t": {"S": "XX", "N": "1"}}}),
    );
    assert_eq!(check(Operation::PutItem, &b), Ok(()));
    let b = body(json!({"ConditionExpression": "#a = #a", "ExpressionAttributeNames": ["#a"]}));
    assert_eq!(check(Operation::PutItem, &b), Ok(()));
}

#[test]
fn an_expression_over_4_kb_is_the_engines() {
    // The engine refuses it by its size before parsing it.
    let src = format!("a = a AND {}", "(".repeat(4096));
    assert_eq!(check(Operation::PutItem, &put(&src)), Ok(()));
}

// ---------------------------------------------------------------------------------
// 8. Streams limits
// ---------------------------------------------------------------------------------

#[test]
fn streams_limits_are_held_to_their_range() {
    let message = |n: &str, constraint: &str| {
        validation(&format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value {constraint}"
        ))
    };
    let records = |limit: Value| {
        check(
            Operation::GetRecords,
            &body(json!({"ShardIterator": "x", "Limit": limit})),
        )
    };
    let streams = |limit: Value| check(Operation::ListStreams, &body(json!({"Limit": limit})));
    assert_eq!(
        records(json!(0)),
        message("0", "greater than or equal to 1")
    );
    assert_eq!(
        records(json!(-5)),
        message("-5", "greater than or equal to 1")
    );
    assert_eq!(
        records(json!(1001)),
        message("1001", "less than or equal to 1000")
    );
    assert_eq!(
        records(json!(u64::MAX)),
        message("18446744073709551615", "less than or equal to 1000")
    );
    assert_eq!(records(json!(1)), Ok(()));
    assert_eq!(records(json!(1000)), Ok(()));
    assert_eq!(
        streams(json!(0)),
        message("0", "greater than or equal to 1")
    );
    assert_eq!(
        streams(json!(101)),
        message("101", "less than or equal to 100")
    );
    assert_eq!(streams(json!(100)), Ok(()));
    // Not an integer: the engine's SerializationException.
    assert_eq!(records(json!("0")), Ok(()));
    assert_eq!(records(json!(0.5)), Ok(()));
    assert_eq!(
        check(Operation::GetRecords, b"{\"ShardIterator\": \"x\"}"),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------
// 9. Tags
// ---------------------------------------------------------------------------------

#[test]
fn tag_keys_may_not_take_the_aws_prefix() {
    let message = "One or more parameter values were invalid: Tag keys starting with 'aws:' are reserved for use by AWS";
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/tbl";
    let tag = |key: &str| {
        check(
            Operation::TagResource,
            &body(
                json!({"ResourceArn": arn, "Tags": [{"Key": "ok", "Value": "aws:x"}, {"Key": key, "Value": "1"}]}),
            ),
        )
    };
    assert_eq!(tag("aws:owner"), validation(message));
    assert_eq!(tag("AWS:owner"), validation(message));
    assert_eq!(tag("owner"), Ok(()));
    assert_eq!(tag("aws"), Ok(()));
    assert_eq!(tag("my-aws:owner"), Ok(()));
    let create = body(json!({"TableName": "tbl", "Tags": [{"Key": "aws:x", "Value": "1"}]}));
    assert_eq!(check(Operation::CreateTable, &create), validation(message));
}

#[test]
fn create_table_takes_at_most_50_tags() {
    let create = |n: usize| {
        let tags: Vec<Value> = (0..n)
            .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
            .collect();
        check(
            Operation::CreateTable,
            &body(json!({"TableName": "tbl", "Tags": tags})),
        )
    };
    assert_eq!(create(50), Ok(()));
    assert_eq!(
        create(51),
        validation("One or more parameter values were invalid: Too many tags: tag limit is 50")
    );
    assert_eq!(
        check(Operation::CreateTable, &body(json!({"TableName": "tbl"}))),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------
// Cost
// ---------------------------------------------------------------------------------

/// The front calls `check` on every request: one with nothing to check costs a UTF-8
/// check and two substring searches. Measured with
/// `cargo test --release -p esb-dynamodb --lib limits::tests::cost -- --nocapture`.
#[test]
fn cost_of_a_request_with_nothing_to_check() {
    let b = body(json!({
        "TableName": "orders",
        "Item": {
            "pk": {"S": "customer#0001"},
            "sk": {"S": "order#2026-12-05T10:00:00Z"},
            "total": {"N": "129.95"},
            "status": {"S": "PENDING"},
            "lines": {"L": [{"S": "sku-1"}, {"S": "sku-2"}]},
        },
        "ReturnValues": "NONE",
    }));
    assert!((190..=230).contains(&b.len()), "{}", b.len());
    let rounds: u32 = 200_000;
    let started = Instant::now();
    for _ in 0..rounds {
        assert_eq!(check(Operation::PutItem, std::hint::black_box(&b)), Ok(()));
    }
    let each = started.elapsed() / rounds;
    eprintln!(
        "PutItem, {} bytes, no expression: {each:?} a request",
        b.len()
    );
    let bound = if cfg!(debug_assertions) {
        Duration::from_micros(50)
    } else {
        Duration::from_micros(2)
    };
    assert!(each < bound, "{each:?}");
}
