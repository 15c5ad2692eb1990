//! Other PKCS#11 clients drive `libarca_pkcs11.so` against a real `arcad --dev`: GnuTLS (`p11tool`,
//! `certtool`), OpenSSL 3 through libp11's `pkcs11` engine, and p11-kit (module registration and
//! its proxy module). Each test starts its own daemon and runs the recipes of docs/pkcs11.md; plain
//! OpenSSL, which loads no module, judges the signatures and certificates.
//!
//! GnuTLS 3.7 calls `C_Initialize` with `CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK`;
//! the module then runs without threads of its own, on GnuTLS's threads, and GnuTLS loads it
//! directly (`p11tool --provider`). That it creates no thread is checked by the module's unit tests
//! (`pkcs11-module/src/abi/tests/child.rs`).
//!
//! p11-kit reads no user configuration in a process whose uid is 0, so as root the p11-kit steps
//! run in a user namespace where the test's uid is 1000 (`unshare`, from util-linux).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arca_tests::{Daemon, Launch, bin_dir};

const SO_PIN: &str = "87654321";
const PIN: &str = "123456";
const TOKEN: &str = "pkcs11:token=arca";
const MESSAGE: &str = "pay 100 to alice\n";
/// `unshare` options that run a program as uid 1000 (mapped to the caller's uid).
const AS_USER: &str = "--user --map-user=1000 --map-group=1000";
/// The options that make OpenSSL take keys from the pkcs11 engine.
const ENGINE: &str = "-engine pkcs11 -keyform engine";

/// A daemon with an initialised token, the module, and a scratch directory where commands run.
struct Bench {
    daemon: Daemon,
    _data: tempfile::TempDir,
    dir: tempfile::TempDir,
    library: String,
}

impl Bench {
    fn start() -> Self {
        let library = bin_dir().join("libarca_pkcs11.so");
        assert!(library.exists(), "{} is missing: run `cargo build --workspace` first", library.display());
        let (daemon, data) = Daemon::start_dev();
        let dir = tempfile::tempdir().unwrap();
        let bench = Self { daemon, _data: data, dir, library: library.display().to_string() };
        let init = bench.tool(&format!("--init-token --label arca --so-pin {SO_PIN}"));
        assert!(init.contains("Token successfully initialized"), "{init}");
        let pin = bench.tool(&format!("--init-pin --login --so-pin {SO_PIN} --pin {PIN}"));
        assert!(pin.contains("User PIN successfully initialized"), "{pin}");
        std::fs::write(bench.path("msg.txt"), MESSAGE).unwrap();
        std::fs::write(bench.path("bad.txt"), "pay 900 to alice\n").unwrap();
        bench
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// `program` with the words of `line`, in the scratch directory, with `ARCA_SOCKET` and `env`.
    fn command(&self, program: &str, line: &str, env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(program);
        command.args(line.split_whitespace()).current_dir(self.dir.path()).stdin(Stdio::null());
        command.env("ARCA_SOCKET", &self.daemon.socket).env_remove("OPENSSL_CONF");
        command.envs(env.iter().copied());
        command
    }

    /// Runs `program`; whatever it does, the module must have written nothing (no panic message,
    /// also not from the exit handlers that call it after the thread-local storage is gone).
    fn run(&self, program: &str, line: &str, env: &[(&str, &str)]) -> Output {
        let output = self.command(program, line, env).output();
        let output =
            output.unwrap_or_else(|e| panic!("{program}: {e} (scripts/install-deps.sh installs it)"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{program} {line}: {}", describe(&output));
        output
    }

    /// Expects exit status 0; returns stdout and stderr.
    #[track_caller]
    fn ok(&self, program: &str, line: &str, env: &[(&str, &str)]) -> String {
        let output = self.run(program, line, env);
        assert!(output.status.success(), "{program} {line}: {}", describe(&output));
        describe(&output)
    }

    /// Expects a failure; returns stdout and stderr.
    #[track_caller]
    fn fails(&self, program: &str, line: &str, env: &[(&str, &str)]) -> String {
        let output = self.run(program, line, env);
        assert!(!output.status.success(), "{program} {line} should fail: {}", describe(&output));
        describe(&output)
    }

    /// pkcs11-tool on the module itself.
    #[track_caller]
    fn tool(&self, line: &str) -> String {
        self.ok("pkcs11-tool", &format!("--module {} {line}", self.library), &[])
    }
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}; stdout {}; stderr {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A file under /usr/lib/<multiarch>/ (Debian's layout), e.g. `p11-kit-proxy.so`.
fn system_lib(relative: &str) -> String {
    let mut found =
        std::fs::read_dir("/usr/lib").unwrap().filter_map(Result::ok).map(|e| e.path().join(relative));
    let path = found.find(|path| path.exists());
    let path =
        path.unwrap_or_else(|| panic!("/usr/lib/*/{relative} is missing: run scripts/install-deps.sh"));
    path.display().to_string()
}

#[test]
fn gnutls_p11tool_and_certtool_load_the_module() {
    let bench = Bench::start();
    let library = bench.library.clone();
    let env = [("GNUTLS_PIN", PIN)];
    let p11tool = |line: &str| bench.ok("p11tool", &format!("--provider {library} {line}"), &env);

    let tokens = p11tool("--list-tokens");
    for line in ["Label: arca", "Type: Hardware token", "Manufacturer: Arca", "Model: arcad"] {
        assert!(tokens.contains(line), "{line}: {tokens}");
    }
    let mechanisms = p11tool(&format!("--list-mechanisms {TOKEN}"));
    for name in [
        "CKM_ECDSA_KEY_PAIR_GEN",
        "CKM_RSA_PKCS_KEY_PAIR_GEN",
        "CKM_ECDSA ",
        "CKM_RSA_PKCS_PSS",
        "CKM_AES_GCM",
    ] {
        assert!(mechanisms.contains(name), "{name}: {mechanisms}");
    }

    let generated = p11tool(&format!(
        "--login --generate-privkey ecdsa --curve secp256r1 --label gnutls-ec --outfile gen.pub.pem {TOKEN}"
    ));
    assert!(generated.contains("Generating an EC/ECDSA key"), "{generated}");
    let private = p11tool(&format!("--login --list-privkeys {TOKEN}"));
    assert!(private.contains("Label: gnutls-ec"), "{private}");
    assert!(private.contains("Type: Private key (EC/ECDSA-SECP256R1)"), "{private}");
    assert!(private.contains("CKA_PRIVATE; CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;"), "{private}");
    let all = p11tool(&format!("--login --list-all {TOKEN}"));
    assert!(all.contains("Type: Public key (EC/ECDSA-SECP256R1)"), "{all}");
    p11tool(&format!("--login --export-pubkey {TOKEN};object=gnutls-ec --outfile ec.pub.pem"));
    assert_eq!(bench.read("ec.pub.pem"), bench.read("gen.pub.pem"), "one public key");

    let key = format!("{TOKEN};object=gnutls-ec;type=private");
    let signed = p11tool(&format!("--login --test-sign {key}"));
    assert!(signed.contains("Signing using ECDSA-SHA256... ok"), "{signed}");
    assert!(signed.contains("Verifying against public key in the token... ok"), "{signed}");

    // A self-signed certificate whose signature Arca makes.
    let template =
        "cn = \"arca test\"\nserial = 1\nexpiration_days = 30\nca\ncert_signing_key\nsigning_key\n";
    std::fs::write(bench.path("cert.tmpl"), template).unwrap();
    let line = format!(
        "--provider {library} --generate-self-signed --load-privkey {key} --template cert.tmpl --outfile cert.pem"
    );
    bench.ok("certtool", &line, &env);
    assert!(bench.ok("openssl", "verify -CAfile cert.pem cert.pem", &[]).contains("cert.pem: OK"));
    let verified = bench.ok("certtool", "--verify --load-ca-certificate cert.pem --infile cert.pem", &[]);
    assert!(verified.contains("Chain verification output: Verified."), "{verified}");
    bench.ok("openssl", "x509 -in cert.pem -noout -pubkey -out cert.pub.pem", &[]);
    assert_eq!(bench.read("cert.pub.pem"), bench.read("ec.pub.pem"), "the certificate holds Arca's key");

    // The certificate goes to the token, next to its key, and comes back unchanged.
    p11tool(&format!("--login --write --load-certificate cert.pem --label gnutls-cert {TOKEN}"));
    let certs = p11tool(&format!("--list-all-certs {TOKEN}"));
    assert!(certs.contains("Label: gnutls-cert"), "{certs}");
    assert!(certs.contains("Type: X.509 Certificate (EC/ECDSA-SECP256R1)"), "{certs}");
    p11tool(&format!("--export {TOKEN};object=gnutls-cert;type=cert --outfile back.pem"));
    bench.ok("openssl", "x509 -in back.pem -outform DER -out back.der", &[]);
    bench.ok("openssl", "x509 -in cert.pem -outform DER -out cert.der", &[]);
    assert_eq!(bench.read("back.der"), bench.read("cert.der"));

    p11tool(&format!(
        "--login --generate-privkey rsa --bits 2048 --label gnutls-rsa --outfile rsa.pub.pem {TOKEN}"
    ));
    let rsa = format!("{TOKEN};object=gnutls-rsa;type=private");
    assert!(p11tool(&format!("--login --test-sign {rsa}")).contains("Signing using RSA-SHA256... ok"));
    let pss = p11tool(&format!("--login --test-sign --sign-params RSA-PSS {rsa}"));
    assert!(pss.contains("Signing using RSA-PSS-SHA256... ok"), "{pss}");

    // A wrong PIN: refused, and the token counts it until a right one.
    let wrong = [("GNUTLS_PIN", "000000")];
    let refused =
        bench.fails("p11tool", &format!("--provider {library} --login --list-privkeys {TOKEN}"), &wrong);
    assert!(refused.contains("Cannot continue with a wrong password in the environment"), "{refused}");
    assert!(bench.tool("-T").contains("user PIN count low"));
    p11tool(&format!("--login --list-privkeys {TOKEN}"));
    assert!(!bench.tool("-T").contains("user PIN count low"));
}

/// A CA, a server certificate for the name `localhost` (no IP address) and a client certificate.
fn make_pki(dir: &Path) {
    let openssl = |line: &str| {
        let output = Command::new("openssl").args(line.split_whitespace()).current_dir(dir).output().unwrap();
        assert!(output.status.success(), "openssl {line}: {}", describe(&output));
    };
    let new_key = "req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    openssl(&format!("{new_key} -x509 -keyout ca.key -out ca.pem -days 2 -subj /CN=Arca-Test-CA"));
    for (name, subject, extensions) in [
        ("server", "/CN=arcad", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n"),
        ("client", "/O=Payments/CN=app-1", "extendedKeyUsage=clientAuth\n"),
    ] {
        openssl(&format!("{new_key} -keyout {name}.key -out {name}.csr -subj {subject}"));
        std::fs::write(dir.join(format!("{name}.ext")), extensions).unwrap();
        openssl(&format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out {name}.pem -extfile {name}.ext"
        ));
    }
}

/// `ARCA_ENDPOINT=https://localhost:…` with mutual TLS, for both ways the module runs: GnuTLS
/// (no threads of the module's own, so the host name is resolved on GnuTLS's thread) and
/// pkcs11-tool (the module's worker threads).
#[test]
fn the_module_reaches_arca_over_mutual_tls_by_host_name() {
    let library = bin_dir().join("libarca_pkcs11.so").display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path();
    make_pki(pki);
    let tls = arca_tests::pki::tls_section(pki);
    let daemon = Launch::key_file_config(pki, &tls).start();
    let url = daemon.addresses.iter().find(|a| a.starts_with("https://127.0.0.1:")).expect("a TLS address");
    let endpoint = url.replacen("127.0.0.1", "localhost", 1);
    std::fs::write(
        pki.join("pkcs11.conf"),
        "ca_cert = ca.pem\nclient_cert = client.pem\nclient_key = client.key\n",
    )
    .unwrap();
    let conf = pki.join("pkcs11.conf").display().to_string();
    let run = |program: &str, line: &str| {
        let mut command = Command::new(program);
        command.args(line.split_whitespace()).current_dir(pki).stdin(Stdio::null());
        command.env_remove("ARCA_SOCKET").env("ARCA_ENDPOINT", &endpoint).env("ARCA_PKCS11_CONF", &conf);
        let output = command.output().unwrap();
        assert!(output.status.success(), "{program} {line}: {}", describe(&output));
        assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"), "{}", describe(&output));
        describe(&output)
    };
    let tokens = run("p11tool", &format!("--provider {library} --list-tokens"));
    assert!(tokens.contains("Manufacturer: Arca") && tokens.contains("Model: arcad"), "{tokens}");
    // A token is present (an uninitialised one: this daemon's token was never set up).
    let slots = run("pkcs11-tool", &format!("--module {library} -L"));
    assert!(slots.contains("Slot 0 (0x0): Arca\n  token state:   uninitialized"), "{slots}");
}

#[test]
fn openssl_engine_signs_and_decrypts_with_arca_keys() {
    let bench = Bench::start();
    bench.tool(&format!("--login --pin {PIN} --keypairgen --key-type EC:prime256v1 --label ossl-ec --id 11"));
    bench.tool(&format!("--login --pin {PIN} --keypairgen --key-type RSA:2048 --label ossl-rsa --id 12"));
    let conf = format!(
        "openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n[engine_section]\n\
         pkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\ndynamic_path = {}\n\
         MODULE_PATH = {}\ninit = 0\n",
        system_lib("engines-3/pkcs11.so"),
        bench.library
    );
    std::fs::write(bench.path("openssl.cnf"), conf).unwrap();
    let conf = bench.path("openssl.cnf").display().to_string();
    let env = [("OPENSSL_CONF", conf.as_str())];
    let engine = |line: &str| bench.ok("openssl", line, &env);
    let plain = |line: &str| bench.ok("openssl", line, &[]);
    let key = |label: &str| format!("{TOKEN};object={label};type=private;pin-value={PIN}");
    plain("dgst -sha256 -binary -out msg.sha256 msg.txt");
    for label in ["ossl-ec", "ossl-rsa"] {
        engine(&format!(
            "pkey -engine pkcs11 -inform engine -pubin -in {TOKEN};object={label};type=public -pubout -out {label}.pub.pem"
        ));
    }

    engine(&format!("dgst -sha256 {ENGINE} -sign {} -out ec.sig msg.txt", key("ossl-ec")));
    assert!(plain("dgst -sha256 -verify ossl-ec.pub.pem -signature ec.sig msg.txt").contains("Verified OK"));
    let forged =
        bench.fails("openssl", "dgst -sha256 -verify ossl-ec.pub.pem -signature ec.sig bad.txt", &[]);
    assert!(forged.contains("Verification failure"), "{forged}");
    engine(&format!("pkeyutl {ENGINE} -sign -inkey {} -in msg.sha256 -out ec-digest.sig", key("ossl-ec")));
    let verify = "pkeyutl -verify -pubin -inkey ossl-ec.pub.pem -in msg.sha256 -sigfile ec-digest.sig";
    assert!(plain(verify).contains("Signature Verified Successfully"));

    // RSA PKCS#1 v1.5 (deterministic: over the message or its digest, one signature) and PSS.
    engine(&format!("dgst -sha256 {ENGINE} -sign {} -out rsa.sig msg.txt", key("ossl-rsa")));
    assert!(
        plain("dgst -sha256 -verify ossl-rsa.pub.pem -signature rsa.sig msg.txt").contains("Verified OK")
    );
    let line = format!("pkeyutl {ENGINE} -sign -inkey {} -pkeyopt digest:sha256", key("ossl-rsa"));
    engine(&format!("{line} -in msg.sha256 -out rsa-digest.sig"));
    assert_eq!(bench.read("rsa-digest.sig"), bench.read("rsa.sig"));
    assert_eq!(bench.read("rsa.sig").len(), 256);
    let pss = "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32";
    engine(&format!("dgst -sha256 {ENGINE} -sign {} {pss} -out pss.sig msg.txt", key("ossl-rsa")));
    let verify = format!("dgst -sha256 -verify ossl-rsa.pub.pem {pss} -signature pss.sig msg.txt");
    assert!(plain(&verify).contains("Verified OK"));
    // OpenSSL's default PSS salt is the longest that fits (222 bytes here), which Arca takes too.
    engine(&format!(
        "dgst -sha256 {ENGINE} -sign {} -sigopt rsa_padding_mode:pss -out max.sig msg.txt",
        key("ossl-rsa")
    ));
    let max = "-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:222";
    assert!(
        plain(&format!("dgst -sha256 -verify ossl-rsa.pub.pem {max} -signature max.sig msg.txt"))
            .contains("Verified OK")
    );

    // RSA-OAEP: plain OpenSSL encrypts to the exported key, Arca decrypts.
    let oaep = "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256";
    plain(&format!("pkeyutl -encrypt -pubin -inkey ossl-rsa.pub.pem {oaep} -in msg.txt -out oaep.bin"));
    engine(&format!(
        "pkeyutl {ENGINE} -decrypt -inkey {} {oaep} -in oaep.bin -out oaep.out",
        key("ossl-rsa")
    ));
    assert_eq!(bench.read("oaep.out"), MESSAGE.as_bytes());

    engine(&format!(
        "req -new -x509 {ENGINE} -key {} -subj /CN=arca-openssl -days 1 -out ossl-cert.pem",
        key("ossl-ec")
    ));
    assert!(plain("verify -CAfile ossl-cert.pem ossl-cert.pem").contains("ossl-cert.pem: OK"));

    let wrong = format!("dgst -sha256 {ENGINE} -sign {TOKEN};object=ossl-ec;type=private;pin-value=000000");
    let refused = bench.fails("openssl", &format!("{wrong} -out no.sig msg.txt"), &env);
    assert!(refused.contains("PIN incorrect"), "{refused}");
}

/// True when this process runs as root (p11-kit then ignores user configuration).
fn root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

#[test]
fn p11_kit_lists_arca_and_its_proxy_reaches_it() {
    let bench = Bench::start();
    let config = bench.path("config");
    std::fs::create_dir_all(config.join("pkcs11/modules")).unwrap();
    let module = format!("module: {}\n", bench.library);
    std::fs::write(config.join("pkcs11/modules/arca.module"), module).unwrap();
    // Only the user's modules, so that what the system registers does not show.
    std::fs::write(config.join("pkcs11/pkcs11.conf"), "user-config: only\n").unwrap();
    let config = config.display().to_string();
    let env = [("XDG_CONFIG_HOME", config.as_str())];
    let run = |program: &str, line: &str| -> Output {
        if root() {
            bench.run("unshare", &format!("{AS_USER} {program} {line}"), &env)
        } else {
            bench.run(program, line, &env)
        }
    };
    if root() {
        let ignored = bench.ok("p11-kit", "list-modules", &env);
        assert!(!ignored.contains("arca:"), "p11-kit reads no user config as root: {ignored}");
        let namespace = bench.run("unshare", &format!("{AS_USER} true"), &[]);
        if !namespace.status.success() {
            eprintln!(
                "skipping the p11-kit user config steps: `unshare {AS_USER}` fails: {}",
                describe(&namespace)
            );
            return;
        }
    }
    let ok = |program: &str, line: &str| {
        let output = run(program, line);
        assert!(output.status.success(), "{program} {line}: {}", describe(&output));
        describe(&output)
    };

    let modules = ok("p11-kit", "list-modules");
    assert!(modules.contains(&format!("stdout arca: {}\n", bench.library)), "{modules}");
    for line in ["library-description: Arca PKCS#11 module", "token: arca", "user-pin-initialized"] {
        assert!(modules.contains(line), "{line}: {modules}");
    }

    let proxy = format!("--module {}", system_lib("p11-kit-proxy.so"));
    let slots = ok("pkcs11-tool", &format!("{proxy} -L"));
    assert_eq!(slots.matches("\nSlot ").count(), 1, "only Arca's slot: {slots}");
    assert!(
        slots.contains("token label        : arca") && slots.contains("token manufacturer : Arca"),
        "{slots}"
    );
    let login = format!("{proxy} --login --pin {PIN}");
    ok("pkcs11-tool", &format!("{login} --keypairgen --key-type EC:prime256v1 --label proxy-ec --id 21"));
    ok(
        "pkcs11-tool",
        &format!("{login} --sign --id 21 -m ECDSA-SHA256 --signature-format openssl -i msg.txt -o proxy.sig"),
    );
    ok("pkcs11-tool", &format!("{proxy} --read-object --type pubkey --id 21 -o proxy-ec.der"));
    let verify = "dgst -sha256 -keyform DER -verify proxy-ec.der -signature proxy.sig msg.txt";
    assert!(bench.ok("openssl", verify, &[]).contains("Verified OK"));
    let refused = run("pkcs11-tool", &format!("{proxy} --login --pin 000000 -O"));
    assert!(
        !refused.status.success() && describe(&refused).contains("CKR_PIN_INCORRECT"),
        "{}",
        describe(&refused)
    );
}
