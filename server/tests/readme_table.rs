//! The README's endpoint table lists exactly the endpoints the router serves, each with the
//! permission key it checks.

use rowguard_server::ENDPOINTS;

#[test]
fn the_readme_table_is_the_endpoint_list() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- endpoints: checked against")
        .expect("the endpoints marker");
    let rows: Vec<(String, Option<String>)> = readme[start..]
        .lines()
        .skip(3) // the marker, the header, the separator
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let endpoint = cells[1].trim_matches('`').to_owned();
            let key = cells[2].strip_prefix('`').and_then(|k| k.strip_suffix('`'));
            (endpoint, key.map(str::to_owned))
        })
        .collect();
    let served: Vec<(String, Option<String>)> = ENDPOINTS
        .iter()
        .map(|(method, path, key)| (format!("{method} {path}"), key.map(str::to_owned)))
        .collect();
    assert_eq!(rows, served);
    // The endpoints without a key: the public three and the session's own three.
    let open: Vec<&str> = ENDPOINTS
        .iter()
        .filter(|(_, _, k)| k.is_none())
        .map(|(_, p, _)| *p)
        .collect();
    assert_eq!(
        open,
        [
            "/api/health",
            "/api/ready",
            "/api/login",
            "/api/logout",
            "/api/me",
            "/api/me/password",
        ]
    );
}

/// Every permission key the API checks is defined by the default seeds.
#[test]
fn every_key_is_seeded() {
    let seeds = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../seeds/00_rbac.json"
    ))
    .expect("seeds");
    let seeds: serde_json::Value = serde_json::from_str(&seeds).expect("json");
    let defined: Vec<&str> = seeds["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for (method, path, key) in ENDPOINTS {
        if let Some(key) = key {
            assert!(
                defined.contains(key),
                "{method} {path}: {key} is not seeded"
            );
        }
    }
}
