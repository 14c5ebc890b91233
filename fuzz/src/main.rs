//! One AFL++ fuzz binary for every target in
//! protocol/tests/fuzz/targets.rs (the same functions the proptest run
//! drives): `KURA_FUZZ_TARGET=<name>` picks one. See scripts/fuzz.sh.

#[path = "../../protocol/tests/fuzz/targets.rs"]
mod targets;

fn main() {
    let name = std::env::var("KURA_FUZZ_TARGET").unwrap_or_default();
    let Some(&(_, target)) = targets::TARGETS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("set KURA_FUZZ_TARGET to one of: {}", names.join(", "));
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        target(data);
    });
}
