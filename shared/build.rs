//! Embeds `../migrations/NNNN_name.sql` into the library, in order, so every function
//! binary carries the schema it expects and a new file needs no code change.

use std::{env, fs, path::Path};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("migrations/ exists beside shared/")
        .map(|entry| entry.expect("readable migrations/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();

    let mut out = String::from("&[\n");
    let mut last = 0;
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path.file_stem().unwrap().to_str().expect("UTF-8 file name");
        let (number, name) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("{stem}: migrations are named NNNN_name.sql"));
        let version: i64 = number
            .parse()
            .unwrap_or_else(|_| panic!("{stem}: migrations are named NNNN_name.sql"));
        assert!(
            version > last,
            "{stem}: versions must increase without duplicates"
        );
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{stem}: names use a-z, 0-9 and _"
        );
        last = version;
        out.push_str(&format!(
            "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({:?}) }},\n",
            path.canonicalize().unwrap().display()
        ));
    }
    out.push_str("]\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs"),
        out,
    )
    .unwrap();
}
