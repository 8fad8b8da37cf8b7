//! Makes a development certificate authority and a server certificate signed
//! by it, for trying `wss://` locally.
//!
//! ```text
//! cargo run --example gen_cert -- [--out dev-cert] [--name my-laptop.local]...
//! ```
//!
//! Writes into the `--out` directory (default `dev-cert`):
//!
//! | file | what | who uses it |
//! |---|---|---|
//! | `ca.pem` | the development CA's certificate | clients: `client --ca dev-cert/ca.pem`, `doctor --ca ...` |
//! | `cert.pem` | the server certificate, for `localhost`, `127.0.0.1`, `::1` and every `--name` | servers: `--cert` |
//! | `key.pem` | the server certificate's private key (PKCS#8) | servers: `--key` |
//!
//! The CA's private key is not kept: to add a name, make a new set. Never
//! trust such a CA outside development.

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

fn main() -> ExitCode {
    let out = PathBuf::from(common::flag("out").unwrap_or_else(|| "dev-cert".to_owned()));
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(extra_names());
    match generate(&out, names.clone()) {
        Ok(()) => {
            println!(
                "wrote {0}/ca.pem (trust this), {0}/cert.pem and {0}/key.pem (serve these) for {1}",
                out.display(),
                names.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "cannot make the development certificate in {}: {e}",
                out.display()
            );
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path, names: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ws13 development CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;

    // IP addresses among the names become IP subject alternative names.
    let mut server_params = CertificateParams::new(names)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "ws13 development server");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server = server_params.signed_by(&server_key, &ca, &ca_key)?;

    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("ca.pem"), ca.pem())?;
    std::fs::write(out.join("cert.pem"), server.pem())?;
    write_private(&out.join("key.pem"), server_key.serialize_pem().as_bytes())?;
    Ok(())
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// Every `--name NAME` / `--name=NAME`.
fn extra_names() -> Vec<String> {
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--name" {
            names.extend(args.next());
        } else if let Some(name) = arg.strip_prefix("--name=") {
            names.push(name.to_owned());
        }
    }
    names
}
