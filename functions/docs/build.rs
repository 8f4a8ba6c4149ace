//! Builds what the docs function serves, so the function itself needs no files:
//! the Swagger UI page with its assets inlined (plain and gzipped) and the spec as JSON.
//!
//! A build script only reads files: the assets are the npm package `swagger-ui-dist`'s
//! own, committed in `assets/swagger-ui-dist/` (its version, licence and how to update
//! it: `assets/README.md`) and checked against `SHA256SUMS` there.

use std::{env, fs, io::Write, path::Path};

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = env::var("OUT_DIR").unwrap();
    let out = Path::new(&out);
    let dist = here.join("assets/swagger-ui-dist");
    let spec = here.join("../../openapi.yaml");
    for path in [&here.join("index.html"), &spec] {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    verify_assets(&dist);

    let read = |name: &str| {
        fs::read_to_string(dist.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dist.join(name).display()))
    };
    let bundle = read("swagger-ui-bundle.js");
    assert!(!bundle.contains("</script"), "the bundle cannot be inlined");
    let page = fs::read_to_string(here.join("index.html"))
        .unwrap()
        .replace("/*SWAGGER_UI_CSS*/", &read("swagger-ui.css"))
        .replace("/*SWAGGER_UI_BUNDLE*/", &bundle);
    fs::write(out.join("docs.html"), &page).unwrap();
    fs::write(out.join("docs.csp"), content_security_policy(&page)).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(page.as_bytes()).unwrap();
    fs::write(out.join("docs.html.gz"), gz.finish().unwrap()).unwrap();

    let yaml = fs::read_to_string(&spec).expect("openapi.yaml at the repository root");
    let value: serde_json::Value =
        serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("openapi.yaml: {e}"));
    fs::write(
        out.join("openapi.json"),
        serde_json::to_string(&value).unwrap(),
    )
    .unwrap();
}

/// Each file listed in `dist/SHA256SUMS` (`sha256sum` format) must have that hash: what
/// is inlined is exactly the published release, never a hand-edited copy.
fn verify_assets(dist: &Path) {
    use sha2::{Digest, Sha256};
    let sums = dist.join("SHA256SUMS");
    println!("cargo:rerun-if-changed={}", sums.display());
    let listed = fs::read_to_string(&sums).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the Swagger UI assets are committed in the repository; \
             see functions/docs/assets/README.md)",
            sums.display()
        )
    });
    for line in listed.lines().filter(|l| !l.trim().is_empty()) {
        let (hash, name) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("{}: not `HASH  NAME`: {line}", sums.display()));
        let file = dist.join(name);
        println!("cargo:rerun-if-changed={}", file.display());
        let bytes = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            actual == hash,
            "{} is not the file SHA256SUMS names (sha256 {actual}, expected {hash}): \
             the assets must be swagger-ui-dist's own; see functions/docs/assets/README.md",
            file.display()
        );
    }
}

/// The page's Content-Security-Policy: its inline scripts by hash (nothing else runs),
/// its own origin for the spec and the token route, no framing. Styles may be inline:
/// Swagger UI's stylesheet is inlined and it sets styles as it renders.
fn content_security_policy(page: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    // Each inline script runs from `<script>` to the next `</script>` (the bundle may
    // hold the text `<script>`, never `</script`).
    let mut scripts = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<script>") {
        let body = &rest[start + "<script>".len()..];
        let end = body.find("</script>").expect("a closed <script>");
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        scripts.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end..];
    }
    assert!(!scripts.is_empty(), "the page has inline scripts");
    format!(
        "default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src 'self' data:; \
         font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
        scripts.join(" ")
    )
}
