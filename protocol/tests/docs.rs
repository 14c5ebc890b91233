//! The partner reference under `docs/` is checked against the code it
//! describes, so a new error code or operation cannot go undocumented.

use kura_protocol::S3ErrorCode;

const ERRORS: &str = include_str!("../../docs/errors.md");

/// Every error code kura can answer has its row in `docs/errors.md`, with
/// the HTTP status the code table gives it.
#[test]
fn every_error_code_is_documented_with_its_status() {
    for code in S3ErrorCode::ALL {
        let cell = format!("| `{}` |", code.as_str());
        let row = ERRORS
            .lines()
            .find(|l| l.starts_with(&cell))
            .unwrap_or_else(|| panic!("docs/errors.md has no row for {}", code.as_str()));
        let status = row[cell.len()..].split('|').next().unwrap().trim();
        assert_eq!(
            status,
            code.status().as_str(),
            "docs/errors.md gives {} another status than protocol/src/error.rs",
            code.as_str()
        );
    }
}

const API: &str = include_str!("../../docs/api.md");

/// Every operation of the operation table has its section in `docs/api.md`.
#[test]
fn every_operation_is_documented() {
    for name in kura_protocol::router::Operation::NAMES {
        let heading = format!("### {name}\n");
        assert!(
            API.contains(&heading),
            "docs/api.md has no `### {name}` section"
        );
    }
}
