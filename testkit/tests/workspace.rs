//! Checks of the workspace as a whole, beyond any one crate: `template.yaml`,
//! `openapi.yaml` and the `cargo lambda watch` router in `Cargo.toml` declare one route
//! table, which the README's table of functions lists and `docs/API.md` describes route
//! by route; each function checks its own route table against it; what the template
//! deploys keeps the secrets out of the functions' environment; and each request's time
//! budget fits inside its function's timeout.
//!
//! A function's route table (`routes()` in its `main.rs`) is private to its binary, so
//! each function compares it in its own tests (`routes_match_the_table`, through
//! [`testkit::routes::assert_table`]); the test here makes sure none lacks that check.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;
use testkit::routes;

fn without_function(routes: &BTreeSet<routes::Route>) -> BTreeSet<(String, String)> {
    routes
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect()
}

/// template.yaml, openapi.yaml and the watch router declare the same routes, and
/// the template and the router send each to the same function.
#[test]
fn one_route_table() {
    let template = routes::template();
    let router = routes::watch_router();
    assert_eq!(
        template, router,
        "template.yaml and the watch router differ"
    );
    assert_eq!(
        without_function(&template),
        without_function(&routes::openapi()),
        "template.yaml and openapi.yaml differ"
    );
    assert_eq!(template.len(), 14);
    // Locally, every route a browser may call with custom headers gets its preflight.
    for (method, path, function) in &template {
        if path.starts_with("/api/") {
            assert!(
                routes::watch_preflight_paths().contains(&(path.clone(), function.clone())),
                "no OPTIONS for {method} {path}"
            );
        }
    }
}

/// The README's table of functions (`| function | routes |`) lists the same routes,
/// each under the function the template sends it to. A cell names `METHOD path`, or
/// methods alone that share the path named next: `GET`, `POST /api/{user_id}/tasks`.
#[test]
fn the_readme_lists_the_route_table() {
    let readme = repo_file("README.md");
    let rows = readme
        .lines()
        .skip_while(|line| *line != "| function | routes |")
        .skip(2)
        .take_while(|line| line.starts_with('|'));
    let mut listed = BTreeSet::new();
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let function = cells[1].trim_matches('`');
        let mut methods = Vec::new();
        for quoted in cells[2].split('`').skip(1).step_by(2) {
            match quoted.split_once(' ') {
                None => methods.push(quoted),
                Some((method, path)) => {
                    for method in methods.drain(..).chain([method]) {
                        listed.insert((method.to_owned(), path.to_owned(), function.to_owned()));
                    }
                }
            }
        }
        assert!(methods.is_empty(), "methods without a path: {row}");
    }
    assert_eq!(
        listed,
        routes::template(),
        "the README's table and template.yaml differ"
    );
}

/// `docs/API.md` describes every route: a section headed `### METHOD path`, or a row of
/// the service routes' table; and it has no section for a route that does not exist.
#[test]
fn the_api_document_describes_every_route() {
    let doc = repo_file("docs/API.md");
    let template = routes::template();
    for (method, path, _) in &template {
        let route = format!("{method} {path}");
        let described = doc.lines().any(|line| {
            line == format!("### {route}") || line.starts_with(&format!("| `{route}` |"))
        });
        assert!(described, "docs/API.md has no section for {route}");
    }
    let declared: BTreeSet<(String, String)> = without_function(&template);
    for heading in doc.lines().filter_map(|line| line.strip_prefix("### ")) {
        if let Some((method, path)) = heading.split_once(" /")
            && method.chars().all(|c| c.is_ascii_uppercase())
        {
            let route = (method.to_owned(), format!("/{path}"));
            assert!(declared.contains(&route), "docs/API.md: ### {heading}");
        }
    }
}

/// Every function the template deploys is a crate of `functions/` whose tests hold its
/// own route table to its part of the one above.
#[test]
fn each_function_checks_its_own_route_table() {
    let functions: BTreeSet<String> = routes::template().into_iter().map(|r| r.2).collect();
    assert_eq!(functions.len(), 5, "{functions:?}");
    for function in functions {
        let path = format!("functions/{function}/src/tests.rs");
        let check = format!("testkit::routes::assert_table(\"{function}\", &routes())");
        assert!(
            repo_file(&path).contains(&check),
            "{path} does not call {check}"
        );
    }
}

/// A file of the repository, by its path from the root.
fn repo_file(path: &str) -> String {
    let full = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn template() -> Value {
    serde_yaml_ng::from_str(&repo_file("template.yaml")).unwrap()
}

fn names(mapping: &Value) -> Vec<String> {
    mapping
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The `!Ref`s of a function's policies.
fn policies(function: &Value) -> Vec<String> {
    function["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|p| match p {
            Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().to_owned(),
            other => panic!("a policy that is not a !Ref: {other:?}"),
        })
        .collect()
}

/// Secrets never sit in a function's environment, and each function may read only the
/// secrets it uses.
#[test]
fn secrets_reach_functions_only_as_arns_they_may_read() {
    let doc = template();
    let globals = names(&doc["Globals"]["Function"]["Environment"]["Variables"]);
    for plain in ["DATABASE_URL", "BETTER_AUTH_SECRET"] {
        assert!(!globals.contains(&plain.to_owned()), "{plain} in Globals");
    }
    assert!(globals.contains(&"DATABASE_URL_SECRET_ARN".to_owned()));
    let functions: Vec<(&Value, &Value)> = doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect();
    assert_eq!(functions.len(), 5);
    for (name, function) in functions {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let env = names(&function["Properties"]["Environment"]["Variables"]);
        for plain in ["DATABASE_URL", "BETTER_AUTH_SECRET"] {
            assert!(!env.contains(&plain.to_owned()), "{plain} in {name:?}");
        }
        let signs_or_verifies = binary != "docs";
        assert_eq!(
            env.contains(&"BETTER_AUTH_SECRET_ARN".to_owned()),
            signs_or_verifies,
            "{binary}: the signing key's ARN only where tokens are issued or checked"
        );
        let mut expected = vec!["ReadDatabaseSecret".to_owned()];
        if signs_or_verifies {
            expected.push("ReadSigningSecret".to_owned());
        }
        assert_eq!(policies(function), expected, "{binary}");
    }
    // The stack keeps the secrets: a given URL or key is stored, a missing key made.
    let resources = &doc["Resources"];
    assert_eq!(
        resources["DatabaseUrlSecret"]["Type"],
        "AWS::SecretsManager::Secret"
    );
    let signing = &resources["SigningSecret"];
    assert_eq!(signing["Type"], "AWS::SecretsManager::Secret");
    let generate = format!("{:?}", signing["Properties"]["GenerateSecretString"]);
    assert!(generate.contains("PasswordLength"), "{generate}");
    assert!(names(&doc["Outputs"]).contains(&"SigningSecretArn".to_owned()));
}

/// The time budget of a request fits inside its function's timeout with room to spare,
/// so a slow database or key server is answered 503 or 504 by the function, never by API
/// Gateway. One deadline per request: all its database work ends by the budget plus one
/// cancel (shared/tests/database.rs proves the sharing). A task request may first wait
/// for the key set (its own bound); `auth` may add two bcrypt runs at the highest cost
/// (about 0.8 s each at 1 GB) after its last statement started.
#[test]
fn request_budgets_fit_inside_the_function_timeouts() {
    use shared::auth::KEY_SET_BUDGET;
    use shared::db::{CANCEL_BUDGET, REQUEST_BUDGET};
    use std::time::Duration;

    let margin = Duration::from_secs(2);
    let database = REQUEST_BUDGET + CANCEL_BUDGET;
    let timeouts = routes::function_timeouts();
    for function in ["tasks", "task", "complete", "docs"] {
        let needed = KEY_SET_BUDGET.max(REQUEST_BUDGET) + CANCEL_BUDGET + margin;
        assert!(
            Duration::from_secs(timeouts[function]) >= needed,
            "{function}: {}s < {needed:?}",
            timeouts[function]
        );
    }
    let needed = database + 2 * Duration::from_millis(800) + margin;
    assert!(
        Duration::from_secs(timeouts["auth"]) >= needed,
        "auth: {}s < {needed:?}",
        timeouts["auth"]
    );
}
