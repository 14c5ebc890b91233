//! `kura-bench put|get|mixed|list|multipart|delete ...`: see `--help`.

fn main() {
    match kura_bench::run_cli(std::env::args_os()) {
        Ok((cli, report)) => println!("{}", kura_bench::render(&cli, &report)),
        Err(e) => match e.downcast_ref::<clap::Error>() {
            Some(clap_err) => clap_err.exit(),
            None => {
                eprintln!("kura-bench: {e:#}");
                std::process::exit(1);
            }
        },
    }
}
