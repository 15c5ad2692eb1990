//! A throwaway PKI made with openssl for the mutual-TLS tests: a CA, a server certificate for
//! 127.0.0.1 and localhost, and a client certificate.

use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl").current_dir(dir).args(args).status().expect("run openssl");
    assert!(status.success(), "openssl {args:?}");
}

fn new_key_and_csr(dir: &Path, name: &str, subject: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ],
    );
}

fn sign(dir: &Path, name: &str, extensions: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
    let (csr, pem, ext) = (format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &pem,
            "-extfile",
            &ext,
        ],
    );
}

/// A CA (`ca.pem`), a server certificate for 127.0.0.1 (`server.pem`, `server.key`) and a
/// client certificate with subject `O=Payments, CN=app-1` (`client.pem`, `client.key`) in `dir`.
pub fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Arca Test CA",
        ],
    );
    new_key_and_csr(dir, "server", "/CN=arcad");
    sign(dir, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
    new_key_and_csr(dir, "client", "/O=Payments/CN=app-1");
    sign(dir, "client", "extendedKeyUsage=clientAuth\n");
}

/// The `[tls]` section of a daemon listening on 127.0.0.1 (any port) with the certificates of
/// [`make_pki`] in `dir`, client certificates required.
pub fn tls_section(dir: &Path) -> String {
    format!(
        "[tls]\nlisten = \"127.0.0.1:0\"\ncert = \"{p}/server.pem\"\nkey = \"{p}/server.key\"\nclient_ca = \"{p}/ca.pem\"\n",
        p = dir.display()
    )
}
