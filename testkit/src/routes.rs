//! The route table as each place declares it: `(METHOD, path, function)`. OpenAPI
//! names no function, so its entries carry "".

use std::collections::BTreeSet;
use std::path::PathBuf;

pub type Route = (String, String, String);

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `HttpApi` events of `template.yaml`, with the binary each function builds.
pub fn template() -> BTreeSet<Route> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&repo_file("template.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    for (_, resource) in doc["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap()
            .to_owned();
        for (_, event) in resource["Properties"]["Events"].as_mapping().unwrap() {
            if event["Type"].as_str() == Some("HttpApi") {
                let p = &event["Properties"];
                routes.insert((
                    p["Method"].as_str().unwrap().to_uppercase(),
                    p["Path"].as_str().unwrap().to_owned(),
                    binary.clone(),
                ));
            }
        }
    }
    routes
}

/// Each function's `Timeout` in `template.yaml` (its own, else the `Globals` one), by
/// the binary it runs, in seconds.
pub fn function_timeouts() -> std::collections::BTreeMap<String, u64> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&repo_file("template.yaml")).unwrap();
    let global = doc["Globals"]["Function"]["Timeout"].as_u64();
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|r| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
            let timeout = r["Properties"]["Timeout"].as_u64().or(global);
            (binary.to_owned(), timeout.expect("a Timeout"))
        })
        .collect()
}

/// Operations of `openapi.yaml`.
pub fn openapi() -> BTreeSet<Route> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&repo_file("openapi.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if [
                "get", "put", "post", "delete", "patch", "options", "head", "trace",
            ]
            .contains(&method)
            {
                routes.insert((
                    method.to_uppercase(),
                    path.as_str().unwrap().to_owned(),
                    String::new(),
                ));
            }
        }
    }
    routes
}

/// `[workspace.metadata.lambda.watch.router]` in `Cargo.toml`, without the OPTIONS
/// entries that exist only so functions answer CORS preflights locally.
pub fn watch_router() -> BTreeSet<Route> {
    let doc: toml::Table = repo_file("Cargo.toml").parse().unwrap();
    let router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut routes = BTreeSet::new();
    for (path, entries) in router {
        for entry in entries.as_array().unwrap() {
            let method = entry["method"].as_str().unwrap().to_uppercase();
            if method != "OPTIONS" {
                routes.insert((
                    method,
                    path.clone(),
                    entry["function"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    routes
}

/// The paths whose OPTIONS the watch router sends to a function.
pub fn watch_preflight_paths() -> BTreeSet<(String, String)> {
    let doc: toml::Table = repo_file("Cargo.toml").parse().unwrap();
    let router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    router
        .iter()
        .flat_map(|(path, entries)| {
            entries
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["method"].as_str() == Some("OPTIONS"))
                .map(move |e| (path.clone(), e["function"].as_str().unwrap().to_owned()))
        })
        .collect()
}

/// `(METHOD, path)` of `function` in `template.yaml`.
pub fn of(function: &str) -> Vec<(String, String)> {
    template()
        .into_iter()
        .filter(|(_, _, f)| f == function)
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// Asserts that a function's route table is exactly `function`'s routes in
/// `template.yaml` (which `testkit/tests/workspace.rs` holds equal to `openapi.yaml` and
/// the watch router): nothing missing, nothing extra. Each function's tests call it as
/// `routes_match_the_table`.
pub fn assert_table<S>(function: &str, router: &shared::http::Router<S>) {
    let declared: BTreeSet<(String, String)> = of(function).into_iter().collect();
    assert!(
        !declared.is_empty(),
        "template.yaml has no routes for {function}"
    );
    let table: BTreeSet<(String, String)> = router
        .table()
        .map(|(method, path)| (method.to_string(), path.to_owned()))
        .collect();
    assert_eq!(
        table, declared,
        "{function}'s route table differs from template.yaml"
    );
}
