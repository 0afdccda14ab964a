//! The examples of the IAM-style ACL README rowguard's policies follow, with the answers
//! that README gives (its `php` partition written `rowguard`), and the edges around them.

use super::{Arn, ArnPattern, Policy, PolicyError, Reason};

fn policy(json: &str) -> Policy {
    match Policy::parse(json) {
        Ok(p) => p,
        Err(e) => panic!("policy does not parse: {e}"),
    }
}

fn allowed(policy: &Policy, action: &str, resource: &str) -> bool {
    match policy.is_allowed(action, resource) {
        Ok(answer) => answer,
        Err(e) => panic!("{action} on {resource}: {e}"),
    }
}

#[test]
fn list_on_the_resource_type() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"server:List","Resource":["arn:rowguard:default:local:123:server"]}]"#,
    );
    assert!(allowed(
        &p,
        "server:List",
        "arn:rowguard:default:local:123:server"
    ));
    // Another account, another action, one server: not named.
    assert!(!allowed(
        &p,
        "server:List",
        "arn:rowguard:default:local:124:server"
    ));
    assert!(!allowed(
        &p,
        "server:Delete",
        "arn:rowguard:default:local:123:server"
    ));
    assert!(!allowed(
        &p,
        "server:List",
        "arn:rowguard:default:local:123:server/1"
    ));
}

#[test]
fn resource_agnostic_and_resource_arns() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"server:List","Resource":["arn:rowguard:default:local:123:server"]},
            {"Effect":"Allow","Action":"server:Delete","Resource":["arn:rowguard:default:local:123:server/1"]}]"#,
    );
    // The actor's account (123) fills in the type's ARN; the server's own id its ARN.
    let arn = |id| Arn::new("rowguard", "default", "local", "123", "server", id).expect("arn");
    let (list, server_1, server_2) = (arn(None), arn(Some("1")), arn(Some("2")));
    let decide = |action, arn: &Arn| p.decide(action, arn).map(|d| d.allowed);
    assert_eq!(decide("server:List", &list), Ok(true));
    assert_eq!(decide("server:Delete", &server_1), Ok(true));
    assert_eq!(decide("server:Delete", &server_2), Ok(false));
}

#[test]
fn sub_paths() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"disk:ReadFile","Resource":["arn:rowguard:default:local:123:disk/etc/*"]},
            {"Effect":"Allow","Action":"disk:ListFilesAndFolders","Resource":["arn:rowguard:default:local:123:disk/etc/*"]}]"#,
    );
    assert!(allowed(
        &p,
        "disk:ReadFile",
        "arn:rowguard:default:local:123:disk/etc/hosts"
    ));
    assert!(!allowed(
        &p,
        "disk:ReadFile",
        "arn:rowguard:default:local:123:disk/var/log/httpd.log"
    ));
    assert!(allowed(
        &p,
        "disk:ListFilesAndFolders",
        "arn:rowguard:default:local:123:disk/etc/"
    ));
    assert!(!allowed(
        &p,
        "disk:ListFilesAndFolders",
        "arn:rowguard:default:local:123:disk/etc"
    ));
    // Deeper paths are inside too; a sibling whose name starts the same is not.
    assert!(allowed(
        &p,
        "disk:ReadFile",
        "arn:rowguard:default:local:123:disk/etc/ssl/certs/a.pem"
    ));
    assert!(!allowed(
        &p,
        "disk:ReadFile",
        "arn:rowguard:default:local:123:disk/etcetera"
    ));
}

#[test]
fn the_team_is_the_account() {
    // An actor whose account id is its team: the team's id fills in the account part.
    let p = policy(
        r#"[{"Effect":"Allow","Action":"server:List","Resource":"arn:rowguard:baremetal:local:team-1:server"}]"#,
    );
    let team =
        |id: &str| Arn::new("rowguard", "baremetal", "local", id, "server", None).expect("arn");
    assert!(p
        .decide("server:List", &team("team-1"))
        .is_ok_and(|d| d.allowed));
    assert!(p
        .decide("server:List", &team("team-2"))
        .is_ok_and(|d| !d.allowed));
}

#[test]
fn prefixed_actions_of_two_services() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":["server:List","container:List"],
             "Resource":["arn:rowguard:default:local:123:server","arn:rowguard:docker-manager:local:123:container"]}]"#,
    );
    assert!(allowed(
        &p,
        "server:List",
        "arn:rowguard:default:local:123:server"
    ));
    assert!(allowed(
        &p,
        "container:List",
        "arn:rowguard:docker-manager:local:123:container"
    ));
    assert!(!allowed(
        &p,
        "container:Delete",
        "arn:rowguard:docker-manager:local:123:container"
    ));
}

#[test]
fn a_check_with_a_wildcard_is_an_error() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"server:List","Resource":"arn:rowguard:default:local:123:server/123"}]"#,
    );
    assert!(matches!(
        p.is_allowed("server:List", "arn:rowguard:default:local:123:server/*"),
        Err(PolicyError::WildcardCheck {
            what: "resource",
            ..
        })
    ));
    assert!(matches!(
        p.is_allowed("server:*", "arn:rowguard:default:local:123:server/123"),
        Err(PolicyError::WildcardCheck { what: "action", .. })
    ));
    assert!(matches!(
        p.is_allowed("server:List", "arn:rowguard:default:local:12?:server/123"),
        Err(PolicyError::WildcardCheck { .. })
    ));
}

#[test]
fn type_statements_and_resource_statements() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":["server:List","server:Create"],"Resource":"arn:rowguard:default:local:123:server"},
            {"Effect":"Allow","Action":["server:Describe","server:Update","server:Delete"],"Resource":"arn:rowguard:default:local:123:server/*"}]"#,
    );
    for action in ["server:List", "server:Create"] {
        assert!(allowed(&p, action, "arn:rowguard:default:local:123:server"));
        assert!(!allowed(
            &p,
            action,
            "arn:rowguard:default:local:123:server/123"
        ));
    }
    for action in ["server:Describe", "server:Update", "server:Delete"] {
        assert!(allowed(
            &p,
            action,
            "arn:rowguard:default:local:123:server/123"
        ));
        // `server/*` does not name the type itself.
        assert!(!allowed(
            &p,
            action,
            "arn:rowguard:default:local:123:server"
        ));
    }
}

#[test]
fn an_explicit_deny_wins_in_any_order() {
    let allow = r#"{"Effect":"Allow","Action":"server:*","Resource":"*"}"#;
    let deny = r#"{"Effect":"Deny","Action":"server:Delete","Resource":"arn:rowguard:default:local:123:server/1"}"#;
    for json in [format!("[{allow},{deny}]"), format!("[{deny},{allow}]")] {
        let p = policy(&json);
        let one: Arn = "arn:rowguard:default:local:123:server/1"
            .parse()
            .expect("arn");
        let decision = p.decide("server:Delete", &one).expect("decision");
        assert!(!decision.allowed);
        assert!(matches!(decision.reason, Reason::Denied(_)));
        assert!(allowed(
            &p,
            "server:Delete",
            "arn:rowguard:default:local:123:server/2"
        ));
        assert!(allowed(
            &p,
            "server:Stop",
            "arn:rowguard:default:local:123:server/1"
        ));
    }
    // Merged policies keep every set's denies.
    let merged = Policy::merge([
        &policy(&format!("[{allow}]")),
        &policy(&format!("[{deny}]")),
    ]);
    assert!(!allowed(
        &merged,
        "server:Delete",
        "arn:rowguard:default:local:123:server/1"
    ));
}

#[test]
fn nothing_named_is_refused() {
    let empty = Policy::default();
    assert!(!allowed(
        &empty,
        "server:List",
        "arn:rowguard:default:local:123:server"
    ));
}

#[test]
fn bad_documents_name_the_statement_and_field() {
    let cases = [
        (
            r#"{"Statement": 1}"#,
            r#"policy field "Statement": expected a statement or a list of statements"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"server:List"}]"#,
            r#"statement 0, field "Resource": missing"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"List","Resource":"*"}]"#,
            r#"statement 0, field "Action": invalid action "List""#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"server:List","Resource":"arn:x:y:z:1"}]"#,
            r#"statement 0, field "Resource": invalid ARN "arn:x:y:z:1": it has 4 of the 5 parts"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"server:List","Resource":"srn:x:y:z:1:t"}]"#,
            r#"must start with "arn:""#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"server:List","Resource":"arn:x::z:1:t"}]"#,
            "its service is empty",
        ),
        (
            r#"[{"Effect":"Allow","Action":[],"Resource":"*"}]"#,
            r#"field "Action": an empty list names nothing"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"a:b","Resources":"*"}]"#,
            r#"statement 0, field "Resources": unknown field"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{}}]"#,
            r#"field "Condition": not supported"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"a:b","NotResource":"*"}]"#,
            r#"field "NotResource": not supported"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"a:b;DROP TABLE x","Resource":"*"}]"#,
            r#"the verb holds ';'"#,
        ),
        (r#"["Allow"]"#, "statement 0: expected an object"),
        // A key given twice: the later one would silently win.
        (
            r#"[{"Effect":"Deny","Action":"*","Resource":"*","Effect":"Allow"}]"#,
            r#"key "Effect" appears twice"#,
        ),
        (
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}],"Statement":[]}"#,
            r#"key "Statement" appears twice"#,
        ),
        (
            r#"[{"Effect":"Allow","Action":["a:b","c"],"Resource":"*"}]"#,
            r#"statement 0, field "Action[1]": invalid action "c""#,
        ),
        (
            r#"[{"Effect":"Allow","Action":"a:b","Resource":["*",7]}]"#,
            r#"field "Resource[1]": expected a string, found 7"#,
        ),
        (
            r#"{"Version":"2012-10-17 ","Statement":[]}"#,
            r#"policy field "Version": expected "2012-10-17" or "2008-10-17""#,
        ),
        (
            r#"[{"Sid":"a\nb","Effect":"Allow","Action":"a:b","Resource":"*"}]"#,
            r#"field "Sid": expected letters and digits only"#,
        ),
        ("[", "policy JSON: EOF while parsing"),
    ];
    for (json, expected) in cases {
        let error = Policy::parse(json).expect_err(json).to_string();
        assert!(
            error.contains(expected),
            "{json}: {error:?} lacks {expected:?}"
        );
    }
}

#[test]
fn documents_read_back_the_same() {
    let p = policy(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Deny","Action":"x:Y","Resource":"*"},
            {"Effect":"Allow","Action":["x:*","z:Get?"],"Resource":["arn:p:s:r:a:t/*","arn:p:s:r:*:t"]}]}"#,
    );
    let again = policy(&p.to_json().to_string());
    assert_eq!(p, again);
}

#[test]
fn iam_documents_with_an_id_and_one_statement() {
    let p = policy(
        r#"{"Version":"2008-10-17","Id":"servers","Statement":{"Effect":"Allow","Action":"server:List","Resource":"*"}}"#,
    );
    assert!(allowed(
        &p,
        "server:List",
        "arn:rowguard:default:local:1:server"
    ));
}

#[test]
fn a_resource_is_named_one_way_only() {
    // A Deny of server/1 must not be sidestepped by another spelling of it.
    for spelling in [
        "arn:rowguard:default:local:123:server//1",
        "arn:rowguard:default:local:123:server/./1",
        "arn:rowguard:default:local:123:disk/etc/../etc/shadow",
    ] {
        let error = Arn::parse(spelling).expect_err(spelling).to_string();
        assert!(
            error.contains("name each resource one way"),
            "{spelling}: {error}"
        );
    }
    // A folder (a last empty segment) is a resource of its own.
    assert!(Arn::parse("arn:rowguard:default:local:123:disk/etc/").is_ok());
}

#[test]
fn data_cannot_reach_into_another_part() {
    // A team named `123:server/9` must not become account 123.
    assert!(Arn::new(
        "rowguard",
        "default",
        "local",
        "123:server/9",
        "server",
        None
    )
    .is_err());
    assert!(Arn::new("rowguard", "default", "local", "", "server", None).is_err());
    assert!(Arn::new("rowguard", "default", "local", "a\nb", "server", None).is_err());
    // A bidirectional override would make an ARN read otherwise than it compares.
    assert!(Arn::new(
        "rowguard",
        "default",
        "local",
        "1",
        "server",
        Some("1\u{202e}2")
    )
    .is_err());
    assert!(ArnPattern::parse("arn:rowguard:default:local:1:server/\u{2066}x").is_err());
    assert!(matches!(
        Arn::new("rowguard", "default", "local", "*", "server", Some("1")),
        Err(PolicyError::WildcardCheck { .. })
    ));
    assert!(matches!(
        Arn::new("rowguard", "default", "local", "1", "server", Some("*")),
        Err(PolicyError::WildcardCheck { .. })
    ));
    // An id may hold `/` (a sub-path) and `:`.
    let arn = Arn::new("rowguard", "default", "local", "1", "disk", Some("etc/a:b")).expect("arn");
    assert_eq!((arn.account(), arn.id()), ("1", Some("etc/a:b")));
}

#[test]
fn long_names_are_refused_before_matching() {
    let id = "a".repeat(super::arn::MAX_ARN_LEN);
    let long = format!("arn:rowguard:default:local:1:server/{id}");
    assert!(Arn::parse(&long).is_err());
    let pattern =
        format!(r#"[{{"Effect":"Allow","Action":"a:b","Resource":"arn:p:s:r:a:t/*{id}b"}}]"#);
    assert!(Policy::parse(&pattern).is_err());
    let action = format!(r#"[{{"Effect":"Allow","Action":"a:{id}","Resource":"*"}}]"#);
    assert!(Policy::parse(&action).is_err());
}

#[test]
fn a_deny_of_a_resource_and_its_sub_paths_names_both() {
    // `server/1/` (the folder form) is a resource of its own: a Deny of `server/1` alone does
    // not name it, a Deny that also names `server/1/*` does.
    let narrow = policy(
        r#"[{"Effect":"Allow","Action":"server:*","Resource":"arn:rowguard:default:local:123:server/*"},
            {"Effect":"Deny","Action":"server:Delete","Resource":"arn:rowguard:default:local:123:server/1"}]"#,
    );
    assert!(allowed(
        &narrow,
        "server:Delete",
        "arn:rowguard:default:local:123:server/1/"
    ));
    let both = policy(
        r#"[{"Effect":"Allow","Action":"server:*","Resource":"arn:rowguard:default:local:123:server/*"},
            {"Effect":"Deny","Action":"server:Delete","Resource":["arn:rowguard:default:local:123:server/1",
                                                                  "arn:rowguard:default:local:123:server/1/*"]}]"#,
    );
    for denied in ["server/1", "server/1/", "server/1/disk"] {
        let arn = format!("arn:rowguard:default:local:123:{denied}");
        assert!(!allowed(&both, "server:Delete", &arn), "{arn}");
    }
    assert!(allowed(
        &both,
        "server:Delete",
        "arn:rowguard:default:local:123:server/10"
    ));
}

#[test]
fn a_pattern_that_could_never_match_is_refused() {
    for resource in [
        "arn:p:s:r:a:disk/etc/../shadow",
        "arn:p:s:r:a:disk//etc",
        "arn:p:s:r:a:disk/./x",
    ] {
        let json = format!(r#"[{{"Effect":"Deny","Action":"disk:Read","Resource":"{resource}"}}]"#);
        let error = Policy::parse(&json).expect_err(resource).to_string();
        assert!(error.contains("could never match"), "{resource}: {error}");
    }
}

#[test]
fn sizes_are_bounded_and_errors_stay_short() {
    assert!(Arn::new("rowguard", "default", "local", "1", "server", Some("")).is_err());
    let huge = format!(
        "[{}]",
        vec![r#"{"Effect":"Allow","Action":"a:b","Resource":"*"}"#; 2_000].join(",")
    );
    let error = Policy::parse(&huge).expect_err("too large").to_string();
    assert!(error.contains("longer than 65536 bytes"), "{error}");
    let long_field = format!(
        r#"[{{"Effect":"Allow","Action":"a:b","Resource":"*","{}":1}}]"#,
        "x".repeat(10_000)
    );
    assert!(
        Policy::parse(&long_field)
            .expect_err("field")
            .to_string()
            .len()
            < 300
    );
    let long_arn = format!(
        "arn:rowguard:default:local:1:server/{}",
        "y".repeat(100_000)
    );
    assert!(Arn::parse(&long_arn).expect_err("arn").to_string().len() < 300);
}
