//! Checks of the workspace as a whole, beyond any one crate: `template.yaml`,
//! `openapi.yaml` and the `cargo lambda watch` router in `Cargo.toml` declare one route
//! table, which the README's table of functions lists and `docs/API.md` describes route
//! by route; each function checks its own route table against it; what the template
//! deploys keeps the secrets out of the functions' environment; each request's time
//! budget fits inside its function's timeout; and the template runs it in production:
//! every function traced, logging JSON and deployed through an alias whose rollback
//! triggers are its own alarms, every alarm notifying, the API-level alarms only
//! notifying, and one dashboard over the metrics the code emits.
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

/// Deployed, API Gateway answers CORS (the template's `CorsConfiguration`); locally the
/// functions do (`shared::http::cors`). A browser must see the same in both places.
#[test]
fn cors_is_the_same_deployed_and_local() {
    let cors = &template()["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"];
    let list = |name: &str| -> Vec<String> {
        cors[name]
            .as_sequence()
            .unwrap_or_else(|| panic!("CorsConfiguration.{name}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_lowercase())
            .collect()
    };
    let split =
        |text: &str| -> Vec<String> { text.split(',').map(|s| s.trim().to_lowercase()).collect() };
    assert_eq!(list("AllowHeaders"), split(shared::http::ALLOW_HEADERS));
    assert_eq!(list("ExposeHeaders"), split(shared::http::EXPOSE_HEADERS));
    assert_eq!(list("AllowMethods"), split(shared::http::ALLOW_METHODS));
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

// How the template runs in production: tracing, logs, safe deploys, alarms, dashboard.

/// The template's functions: (logical id, the binary it runs, the resource).
fn functions(doc: &Value) -> Vec<(String, String, &Value)> {
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(name, r)| {
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
            (name.as_str().unwrap().to_owned(), binary.to_owned(), r)
        })
        .collect()
}

/// The template's resources of one type, by logical id.
fn resources_of<'a>(doc: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap().to_owned(), r))
        .collect()
}

/// A function's property as SAM applies it: its own, else the one in `Globals`.
fn property<'a>(doc: &'a Value, function: &'a Value, key: &str) -> &'a Value {
    match &function["Properties"][key] {
        Value::Null => &doc["Globals"]["Function"][key],
        own => own,
    }
}

/// Each function's memory size is the one `make bench`'s power tuning chose
/// (bench/power_tuning.py writes bench/power-tuning.json; BENCHMARKS.md has the table).
#[test]
fn memory_sizes_are_the_measured_ones() {
    let doc = template();
    let chosen: serde_json::Value =
        serde_json::from_str(&repo_file("bench/power-tuning.json")).unwrap();
    let functions = functions(&doc);
    assert_eq!(
        functions.len(),
        chosen["MemorySize"].as_object().unwrap().len()
    );
    for (name, binary, function) in functions {
        assert_eq!(
            property(&doc, function, "MemorySize").as_u64(),
            chosen["MemorySize"][&binary].as_u64(),
            "{name} ({binary})"
        );
    }
}

/// What an intrinsic function's short tag holds (`!Ref X`: `X`), if `value` is one.
/// (Reading through a tag, as `as_str` does, would take `!Ref Active` for `Active`.)
fn intrinsic<'a>(value: &'a Value, tag: &str) -> Option<&'a Value> {
    match value {
        Value::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

/// The name in a `!Ref`.
fn reference(value: &Value) -> Option<&str> {
    intrinsic(value, "Ref").and_then(Value::as_str)
}

/// Whether `value` refers to the resource `name` anywhere: `!Ref`, `!GetAtt`, `!Sub`.
fn refers_to(value: &Value, name: &str) -> bool {
    match value {
        Value::Tagged(tagged) => {
            let inner = &tagged.value;
            if tagged.tag == "Ref" {
                inner.as_str() == Some(name)
            } else if tagged.tag == "GetAtt" {
                let resource = match inner {
                    Value::Sequence(items) => items.first().and_then(Value::as_str),
                    other => other.as_str().and_then(|s| s.split('.').next()),
                };
                resource == Some(name)
            } else if tagged.tag == "Sub" {
                let text = match inner {
                    Value::Sequence(items) => items.first().and_then(Value::as_str),
                    other => other.as_str(),
                };
                text.is_some_and(|t| {
                    t.contains(&format!("${{{name}}}")) || t.contains(&format!("${{{name}."))
                }) || refers_to(inner, name)
            } else {
                refers_to(inner, name)
            }
        }
        Value::Sequence(items) => items.iter().any(|v| refers_to(v, name)),
        Value::Mapping(map) => map.values().any(|v| refers_to(v, name)),
        _ => false,
    }
}

/// A function's rollback triggers: the names in its `DeploymentPreference.Alarms` as SAM
/// merges them (the `Globals` list, then its own), each a `!Ref` to a resource.
fn rollback_triggers(doc: &Value, function: &Value) -> Vec<String> {
    let global = &doc["Globals"]["Function"]["DeploymentPreference"]["Alarms"];
    let own = &function["Properties"]["DeploymentPreference"]["Alarms"];
    [global, own]
        .into_iter()
        .flat_map(|alarms| alarms.as_sequence().into_iter().flatten())
        .map(|alarm| {
            reference(alarm)
                .unwrap_or_else(|| panic!("a rollback alarm that is not a !Ref: {alarm:?}"))
                .to_owned()
        })
        .collect()
}

/// A parameter's `AllowedValues`, as strings.
fn allowed_values(doc: &Value, parameter: &str) -> Vec<String> {
    doc["Parameters"][parameter]["AllowedValues"]
        .as_sequence()
        .unwrap_or_else(|| panic!("parameter {parameter} has no AllowedValues"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Every function is traced (X-Ray), logs in Lambda's JSON format at the level of the
/// `LogLevel` parameter, names its metrics' namespace, and is deployed through a `live`
/// alias that CodeDeploy shifts as the `DeploymentType` parameter says (a canary unless
/// told otherwise; all at once for a dev stack).
#[test]
fn every_function_is_traced_logs_json_and_deploys_through_its_alias() {
    let doc = template();
    let functions = functions(&doc);
    assert_eq!(functions.len(), 5);
    let levels = allowed_values(&doc, "LogLevel");
    // Not above INFO: each request's line (the metrics) has no level, which Lambda
    // reads as INFO.
    assert_eq!(levels, ["TRACE", "DEBUG", "INFO"]);
    assert_eq!(
        doc["Parameters"]["LogLevel"]["Default"].as_str(),
        Some("INFO")
    );
    let kinds = allowed_values(&doc, "DeploymentType");
    assert!(kinds.contains(&"AllAtOnce".to_owned()), "{kinds:?}");
    let default = doc["Parameters"]["DeploymentType"]["Default"].as_str();
    assert!(
        default.is_some_and(|d| d.starts_with("Canary")),
        "{default:?}"
    );
    assert_eq!(
        doc["Parameters"]["MetricsNamespace"]["Default"].as_str(),
        Some("TodoApi")
    );
    for (name, _, function) in &functions {
        let tracing = property(&doc, function, "Tracing");
        assert!(
            matches!(tracing, Value::String(s) if s == "Active"),
            "{name}: Tracing {tracing:?}"
        );
        let logging = property(&doc, function, "LoggingConfig");
        assert!(
            matches!(&logging["LogFormat"], Value::String(s) if s == "JSON"),
            "{name}: LoggingConfig {logging:?}"
        );
        assert_eq!(
            reference(&logging["ApplicationLogLevel"]),
            Some("LogLevel"),
            "{name}"
        );
        assert!(logging["SystemLogLevel"].as_str().is_some(), "{name}");
        let alias = property(&doc, function, "AutoPublishAlias");
        assert!(
            matches!(alias, Value::String(s) if s == "live"),
            "{name}: AutoPublishAlias {alias:?}"
        );
        // A new setting reaches the traffic only in a new version.
        assert_eq!(
            property(&doc, function, "AutoPublishAliasAllProperties").as_bool(),
            Some(true),
            "{name}"
        );
        let own = &function["Properties"]["DeploymentPreference"]["Type"];
        let kind = match own {
            Value::Null => &doc["Globals"]["Function"]["DeploymentPreference"]["Type"],
            own => own,
        };
        assert_eq!(reference(kind), Some("DeploymentType"), "{name}: {kind:?}");
        let namespace = [&function["Properties"], &doc["Globals"]["Function"]]
            .into_iter()
            .map(|p| &p["Environment"]["Variables"]["METRICS_NAMESPACE"])
            .find(|v| !v.is_null());
        assert_eq!(
            namespace.and_then(reference),
            Some("MetricsNamespace"),
            "{name}: METRICS_NAMESPACE"
        );
    }
}

/// Each function's rollback triggers are alarms of the template on that function alone:
/// its errors and throttles on the `live` alias, and, where it uses the database, its
/// own `DatabaseUnavailable` (the metric the function emits, by `Function`).
#[test]
fn rollback_triggers_are_the_functions_own_alarms() {
    let doc = template();
    let resources = &doc["Resources"];
    for (name, binary, function) in functions(&doc) {
        let triggers = rollback_triggers(&doc, function);
        let mut metrics = BTreeSet::new();
        for alarm in &triggers {
            let resource = &resources[alarm.as_str()];
            assert_eq!(
                resource["Type"].as_str(),
                Some("AWS::CloudWatch::Alarm"),
                "{name}: rollback trigger {alarm} is not an alarm of the template"
            );
            let p = &resource["Properties"];
            let dimensions: Vec<(&str, &Value)> = p["Dimensions"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{alarm}: no Dimensions"))
                .iter()
                .map(|d| (d["Name"].as_str().unwrap(), &d["Value"]))
                .collect();
            let metric = p["MetricName"].as_str().unwrap();
            if p["Namespace"].as_str() == Some("AWS/Lambda") {
                assert_eq!(dimensions.len(), 2, "{alarm}");
                for (dimension, value) in dimensions {
                    match dimension {
                        "FunctionName" => assert_eq!(reference(value), Some(name.as_str())),
                        "Resource" => assert_eq!(
                            intrinsic(value, "Sub").and_then(Value::as_str),
                            Some(format!("${{{name}}}:live").as_str()),
                            "{alarm}: not on the alias"
                        ),
                        other => panic!("{alarm}: dimension {other}"),
                    }
                }
            } else {
                assert_eq!(
                    reference(&p["Namespace"]),
                    Some("MetricsNamespace"),
                    "{alarm}"
                );
                assert_eq!(dimensions.len(), 1, "{alarm}");
                assert_eq!(dimensions[0].0, "Function", "{alarm}");
                assert_eq!(dimensions[0].1.as_str(), Some(binary.as_str()), "{alarm}");
            }
            metrics.insert(metric.to_owned());
        }
        let mut expected = BTreeSet::from(["Errors".to_owned(), "Throttles".to_owned()]);
        if binary != "docs" {
            expected.insert("DatabaseUnavailable".to_owned());
        }
        assert_eq!(metrics, expected, "{name}: rollback triggers {triggers:?}");
    }
}

/// Every alarm notifies the alarm topic (and on recovery, where it says so), says what it
/// does when a period has no data, and the topic's e-mail subscription exists only when
/// an address is given.
#[test]
fn every_alarm_notifies_the_topic() {
    let doc = template();
    let resources = &doc["Resources"];
    let alarms = resources_of(&doc, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 17, "{} alarms", alarms.len());
    for (name, alarm) in &alarms {
        let p = &alarm["Properties"];
        for key in ["AlarmActions", "OKActions"] {
            let actions = p[key].as_sequence();
            if key == "AlarmActions" {
                assert!(
                    actions.is_some_and(|a| !a.is_empty()),
                    "{name}: no AlarmActions"
                );
            }
            for action in actions.into_iter().flatten() {
                let topic = reference(action).unwrap_or_else(|| panic!("{name}: {action:?}"));
                assert_eq!(
                    resources[topic]["Type"].as_str(),
                    Some("AWS::SNS::Topic"),
                    "{name}: {key} {topic}"
                );
            }
        }
        assert!(
            p["TreatMissingData"].as_str().is_some(),
            "{name}: TreatMissingData"
        );
    }
    let subscriptions = resources_of(&doc, "AWS::SNS::Subscription");
    assert_eq!(subscriptions.len(), 1);
    let (name, subscription) = &subscriptions[0];
    assert_eq!(
        subscription["Condition"].as_str(),
        Some("HasAlarmEmail"),
        "{name}"
    );
    assert_eq!(
        reference(&subscription["Properties"]["Endpoint"]),
        Some("AlarmEmail")
    );
    assert_eq!(
        doc["Parameters"]["AlarmEmail"]["Default"].as_str(),
        Some("")
    );
    assert!(names(&doc["Outputs"]).contains(&"AlarmTopicArn".to_owned()));
}

/// The API-level alarms (the HTTP API's 5xx rate and p99 latency) exist and only notify:
/// none is a rollback trigger (through the alias they would make a dependency circle,
/// cfn-lint E3004).
#[test]
fn the_api_alarms_only_notify() {
    let doc = template();
    let api_alarms: Vec<(String, &Value)> = resources_of(&doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .filter(|(_, alarm)| refers_to(alarm, "HttpApi"))
        .collect();
    // The 5xx rate: metric math dividing the API's 5xx by its request count.
    let rate = api_alarms.iter().any(|(_, alarm)| {
        let metrics = alarm["Properties"]["Metrics"].as_sequence();
        let id_of = |name: &str| {
            metrics
                .into_iter()
                .flatten()
                .find(|m| {
                    let metric = &m["MetricStat"]["Metric"];
                    metric["Namespace"].as_str() == Some("AWS/ApiGateway")
                        && metric["MetricName"].as_str() == Some(name)
                })
                .and_then(|m| m["Id"].as_str())
        };
        let (Some(errors), Some(requests)) = (id_of("5xx"), id_of("Count")) else {
            return false;
        };
        metrics.into_iter().flatten().any(|m| {
            m["Expression"]
                .as_str()
                .is_some_and(|e| e.contains(errors) && e.contains(&format!("/ {requests}")))
                && m["ReturnData"].as_bool() != Some(false)
        })
    });
    assert!(rate, "no 5xx-rate alarm on the HTTP API");
    let p99 = api_alarms.iter().any(|(_, alarm)| {
        let p = &alarm["Properties"];
        p["Namespace"].as_str() == Some("AWS/ApiGateway")
            && p["MetricName"].as_str() == Some("Latency")
            && p["ExtendedStatistic"].as_str() == Some("p99")
    });
    assert!(p99, "no p99-latency alarm on the HTTP API");
    for (function, _, resource) in functions(&doc) {
        for trigger in rollback_triggers(&doc, resource) {
            assert!(
                !api_alarms.iter().any(|(name, _)| *name == trigger),
                "{function}: the API-level alarm {trigger} is a rollback trigger"
            );
        }
    }
}

/// Every `.rs` file under `dir`, read.
fn sources(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(std::fs::read_to_string(&path).unwrap());
        }
    }
    found
}

/// The one dashboard shows every alarm, the API as API Gateway sees it, and per route
/// the requests, errors, latency percentiles and database time; cold starts by function.
/// Its body is JSON once `!Sub` has done its work, naming only parameters and resources
/// that exist; and the functions' own metrics it reads, and those alarms watch, are ones
/// the code emits (named in `shared/src`).
#[test]
fn the_dashboard_shows_the_api_and_every_route() {
    let doc = template();
    let dashboards = resources_of(&doc, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let body = intrinsic(&dashboards[0].1["Properties"]["DashboardBody"], "Sub")
        .and_then(Value::as_str)
        .expect("a DashboardBody built with !Sub");
    // !Sub: `${!x}` is a literal `${x}`; `${Name}` and `${Name.Attribute}` name a
    // parameter, a resource or a pseudo parameter.
    let declared = [names(&doc["Parameters"]), names(&doc["Resources"])].concat();
    let mut json = String::new();
    let mut rest = body;
    let mut arns = BTreeSet::new();
    while let Some(start) = rest.find("${") {
        json.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').expect("an unclosed ${");
        let name = &rest[start + 2..end];
        if let Some(literal) = name.strip_prefix('!') {
            json.push_str(&format!("${{{literal}}}"));
        } else if name == "MetricsNamespace" {
            json.push_str("CUSTOM");
        } else {
            let (resource, attribute) = name.split_once('.').unwrap_or((name, ""));
            assert!(
                resource.starts_with("AWS::") || declared.contains(&resource.to_owned()),
                "the dashboard names ${{{name}}}, which the template does not declare"
            );
            if attribute == "Arn" {
                arns.insert(resource.to_owned());
            }
            json.push_str(resource);
        }
        rest = &rest[end + 1..];
    }
    json.push_str(rest);
    let body: serde_json::Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the DashboardBody is not JSON: {e}\n{json}"));

    // (namespace, metric, statistic, by route) of every graph line: `[namespace, metric,
    // dimension, value, ..., {options}]` or a SEARCH('{namespace,dimensions...}
    // MetricName="..."', 'stat', period) expression.
    let mut lines = Vec::new();
    let widgets = body["widgets"].as_array().expect("widgets");
    for widget in widgets {
        let properties = &widget["properties"];
        let default_stat = properties["stat"].as_str().unwrap_or("Average");
        for line in properties["metrics"].as_array().into_iter().flatten() {
            let line = line.as_array().expect("a metric line");
            if let Some(expression) = line[0]["expression"].as_str() {
                let search = expression
                    .strip_prefix("SEARCH('{")
                    .unwrap_or_else(|| panic!("an expression that is not a SEARCH: {expression}"));
                let (schema, rest) = search.split_once('}').unwrap();
                let mut schema = schema.split(',').map(|s| s.trim_matches('"'));
                let namespace = schema.next().unwrap().to_owned();
                let by_route = schema.any(|d| d == "Route");
                let metric = rest
                    .split_once("MetricName=\"")
                    .and_then(|(_, m)| m.split_once('"'))
                    .map(|(m, _)| m.to_owned())
                    .unwrap_or_else(|| panic!("no MetricName in {expression}"));
                let stat = rest.split('\'').nth(2).unwrap().to_owned();
                lines.push((namespace, metric, stat, by_route));
            } else {
                let namespace = line[0].as_str().unwrap().to_owned();
                let metric = line[1].as_str().unwrap().to_owned();
                let options = line.last().unwrap();
                let stat = options["stat"].as_str().unwrap_or(default_stat).to_owned();
                let by_route = line.iter().any(|v| v.as_str() == Some("Route"));
                lines.push((namespace, metric, stat, by_route));
            }
        }
    }
    let shows = |namespace: &str, metric: &str, stat: &str, by_route: bool| {
        lines.iter().any(|(n, m, s, r)| {
            n == namespace && m == metric && s.eq_ignore_ascii_case(stat) && *r == by_route
        })
    };
    for stat in ["p50", "p90", "p99"] {
        assert!(
            shows("CUSTOM", "Latency", stat, true),
            "Latency {stat} by route"
        );
        assert!(
            shows("AWS/ApiGateway", "Latency", stat, false),
            "API Latency {stat}"
        );
    }
    for metric in ["Requests", "Errors5xx", "Errors4xx"] {
        assert!(shows("CUSTOM", metric, "Sum", true), "{metric} by route");
    }
    assert!(
        shows("CUSTOM", "DbLatency", "p99", true),
        "database time by route"
    );
    assert!(
        shows("CUSTOM", "ColdStart", "Sum", false),
        "cold starts by function"
    );
    for metric in ["Count", "4xx", "5xx"] {
        assert!(
            shows("AWS/ApiGateway", metric, "Sum", false),
            "API {metric}"
        );
    }

    // Every alarm is on the dashboard.
    let alarms: BTreeSet<String> = resources_of(&doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let missing: Vec<&String> = alarms.difference(&arns).collect();
    assert!(
        missing.is_empty(),
        "alarms not on the dashboard: {missing:?}"
    );
    assert!(names(&doc["Outputs"]).contains(&"DashboardUrl".to_owned()));

    // The functions' own metrics, as the dashboard and the alarms name them, are emitted.
    let mut custom: BTreeSet<String> = lines
        .iter()
        .filter(|(n, ..)| n == "CUSTOM")
        .map(|(_, m, ..)| m.clone())
        .collect();
    for (_, alarm) in resources_of(&doc, "AWS::CloudWatch::Alarm") {
        if reference(&alarm["Properties"]["Namespace"]) == Some("MetricsNamespace") {
            custom.insert(
                alarm["Properties"]["MetricName"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    let code =
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src")).concat();
    for metric in custom
        .iter()
        .chain(&["Function".to_owned(), "Route".to_owned()])
    {
        assert!(
            code.contains(&format!("\"{metric}\"")),
            "the template reads the metric or dimension {metric}, which shared/src never names"
        );
    }
}
