//! What `template.yaml` deploys, checked beyond its routes: secrets never sit in a
//! function's environment, and each function may read only the secrets it uses.

#[cfg(test)]
mod tests {
    use serde_yaml_ng::Value;

    fn template() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
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
}
