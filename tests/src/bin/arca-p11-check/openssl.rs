//! The `openssl` command line as the independent reference: digests, MACs, ciphers, key material,
//! certificates and signature verification.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::der;
use crate::suite::{Fail, fail, hex};

/// A scratch directory for the files OpenSSL reads and writes.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Result<Self, Fail> {
        tempfile::tempdir().map(|dir| Self { dir }).or_else(|e| fail(format!("tempdir: {e}")))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, Fail> {
        let path = self.path(name);
        std::fs::write(&path, bytes).or_else(|e| fail(format!("write {}: {e}", path.display())))?;
        Ok(path)
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// Runs `openssl args…` and returns its stdout.
pub fn run(args: &[&str]) -> Result<Vec<u8>, Fail> {
    let output =
        Command::new("openssl").args(args).output().or_else(|e| fail(format!("run openssl: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return fail(format!("openssl {}: {}", args.first().unwrap_or(&""), stderr.trim()));
    }
    Ok(output.stdout)
}

pub fn digest(bits: u32, data: &[u8]) -> Result<Vec<u8>, Fail> {
    let scratch = Scratch::new()?;
    let input = scratch.write("data", data)?;
    run(&["dgst", &format!("-sha{bits}"), "-binary", text(&input)])
}

pub fn hmac(bits: u32, key: &[u8], data: &[u8]) -> Result<Vec<u8>, Fail> {
    let scratch = Scratch::new()?;
    let input = scratch.write("data", data)?;
    let key = format!("hexkey:{}", hex(key));
    let hash = if bits == 160 { "-sha1".to_owned() } else { format!("-sha{bits}") };
    run(&["dgst", &hash, "-mac", "HMAC", "-macopt", &key, "-binary", text(&input)])
}

/// `openssl enc -<cipher>` (e.g. `aes-128-cbc`); `pad` false adds `-nopad`.
pub fn cipher(cipher: &str, key: &[u8], iv: Option<&[u8]>, pad: bool, data: &[u8]) -> Result<Vec<u8>, Fail> {
    let scratch = Scratch::new()?;
    let input = scratch.write("data", data)?;
    let key = hex(key);
    let iv = iv.map(hex);
    let mut args = vec!["enc", "-e", "-nosalt", "-in", text(&input)];
    let cipher = format!("-{cipher}");
    args.extend([cipher.as_str(), "-K", &key]);
    if let Some(iv) = &iv {
        args.extend(["-iv", iv]);
    }
    if !pad {
        args.push("-nopad");
    }
    run(&args)
}

/// A key pair made by OpenSSL, with its PEM private key on disk.
#[derive(Debug)]
pub struct KeyFile {
    pub scratch: Scratch,
    pub pem: PathBuf,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
}

/// RSA private key components (big-endian magnitudes) from OpenSSL.
#[derive(Debug)]
pub struct RsaKey {
    pub file: KeyFile,
    /// n, e, d, p, q, dp, dq, qinv.
    pub parts: Vec<Vec<u8>>,
}

/// An EC P-256 key from OpenSSL.
#[derive(Debug)]
pub struct EcKey {
    pub file: KeyFile,
    /// The 32-byte private scalar.
    pub scalar: Vec<u8>,
    /// The uncompressed point (65 bytes).
    pub point: Vec<u8>,
}

fn key_file(algorithm_args: &[&str]) -> Result<KeyFile, Fail> {
    let scratch = Scratch::new()?;
    let pem = scratch.path("key.pem");
    let mut args = vec!["genpkey"];
    args.extend_from_slice(algorithm_args);
    args.extend(["-out", text(&pem)]);
    run(&args)?;
    let spki = run(&["pkey", "-in", text(&pem), "-pubout", "-outform", "DER"])?;
    Ok(KeyFile { scratch, pem, spki })
}

pub fn rsa_key(bits: u32) -> Result<RsaKey, Fail> {
    let file = key_file(&["-algorithm", "RSA", "-pkeyopt", &format!("rsa_keygen_bits:{bits}")])?;
    let pkcs1 = run(&["rsa", "-in", text(&file.pem), "-outform", "DER", "-traditional"])?;
    let parts = der::read(&pkcs1)
        .and_then(|(_, content, _)| der::elements(content))
        .filter(|fields| fields.len() == 9)
        .map(|fields| fields.iter().skip(1).map(|(_, value, _)| der::strip_zeros(value).to_vec()).collect());
    match parts {
        Some(parts) => Ok(RsaKey { file, parts }),
        None => fail("cannot parse OpenSSL's RSAPrivateKey"),
    }
}

pub fn ec_key() -> Result<EcKey, Fail> {
    let file = key_file(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])?;
    let sec1 = run(&["ec", "-in", text(&file.pem), "-outform", "DER"])?;
    let fields = der::read(&sec1).and_then(|(_, content, _)| der::elements(content));
    let scalar = fields.as_ref().and_then(|f| f.get(1)).map(|(_, value, _)| der::left_pad(value, 32));
    // The SPKI ends with the BIT STRING 00 || point.
    let point = file.spki.get(file.spki.len().saturating_sub(65)..).map(<[u8]>::to_vec);
    match (scalar, point) {
        (Some(scalar), Some(point)) if point.first() == Some(&0x04) => Ok(EcKey { file, scalar, point }),
        _ => fail("cannot parse OpenSSL's EC key"),
    }
}

/// A self-signed certificate (DER) and its subject Name (DER).
pub fn certificate(key: &KeyFile) -> Result<(Vec<u8>, Vec<u8>), Fail> {
    let out = key.scratch.path("cert.der");
    let pem = text(&key.pem);
    let subject = "/CN=arca-check/O=Arca";
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        pem,
        "-subj",
        subject,
        "-days",
        "2",
        "-outform",
        "DER",
        "-out",
        text(&out),
    ])?;
    let cert = std::fs::read(&out).or_else(|e| fail(format!("read certificate: {e}")))?;
    match der::certificate_subject(&cert) {
        Some(subject) => Ok((cert, subject)),
        None => fail("cannot find the certificate's subject"),
    }
}

/// How a signature is checked: the digest name and, for RSA-PSS, the PSS options.
#[derive(Debug, Clone, Copy)]
pub struct SigOpts {
    pub bits: u32,
    pub pss: bool,
}

fn pss_args(pss: bool, flag: &'static str) -> Vec<&'static str> {
    if pss { vec![flag, "rsa_padding_mode:pss", flag, "rsa_pss_saltlen:digest"] } else { Vec::new() }
}

/// Verifies a signature over `message` (OpenSSL hashes it). ECDSA signatures must be DER.
pub fn verify_message(spki: &[u8], opts: SigOpts, message: &[u8], signature: &[u8]) -> Result<(), Fail> {
    let scratch = Scratch::new()?;
    let key = scratch.write("pub.der", spki)?;
    let data = scratch.write("data", message)?;
    let sig = scratch.write("sig", signature)?;
    let md = format!("-sha{}", opts.bits);
    let mut args =
        vec!["dgst", md.as_str(), "-keyform", "DER", "-verify", text(&key), "-signature", text(&sig)];
    args.extend(pss_args(opts.pss, "-sigopt"));
    args.push(text(&data));
    run(&args).map(drop)
}

/// Verifies a signature over a precomputed digest (`openssl pkeyutl -verify`).
pub fn verify_digest(spki: &[u8], opts: SigOpts, digest: &[u8], signature: &[u8]) -> Result<(), Fail> {
    let scratch = Scratch::new()?;
    let key = scratch.write("pub.der", spki)?;
    let data = scratch.write("digest", digest)?;
    let sig = scratch.write("sig", signature)?;
    let md = format!("digest:sha{}", opts.bits);
    let mut args = vec!["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", text(&key)];
    args.extend(["-in", text(&data), "-sigfile", text(&sig), "-pkeyopt", md.as_str()]);
    args.extend(pss_args(opts.pss, "-pkeyopt"));
    run(&args).map(drop)
}

/// Verifies an RSA-PSS signature over a digest of SHA-`bits` (1 for SHA-1), MGF1 with the same
/// hash, with exactly `salt` bytes of salt.
pub fn verify_digest_pss(
    spki: &[u8],
    bits: u32,
    salt: u64,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), Fail> {
    let scratch = Scratch::new()?;
    let key = scratch.write("pub.der", spki)?;
    let data = scratch.write("digest", digest)?;
    let sig = scratch.write("sig", signature)?;
    let name = if bits == 1 { "sha1".to_owned() } else { format!("sha{bits}") };
    let (md, mgf, salt) =
        (format!("digest:{name}"), format!("rsa_mgf1_md:{name}"), format!("rsa_pss_saltlen:{salt}"));
    let mut args = vec!["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", text(&key)];
    args.extend(["-in", text(&data), "-sigfile", text(&sig), "-pkeyopt", md.as_str()]);
    args.extend(["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", mgf.as_str(), "-pkeyopt", salt.as_str()]);
    run(&args).map(drop)
}

/// Signs `message` with an OpenSSL key (PKCS#1 v1.5, or ECDSA DER).
pub fn sign_message(key: &KeyFile, bits: u32, message: &[u8]) -> Result<Vec<u8>, Fail> {
    let data = key.scratch.write("to-sign", message)?;
    run(&["dgst", &format!("-sha{bits}"), "-sign", text(&key.pem), "-binary", text(&data)])
}

/// RSA encryption with a public key: `oaep` None is PKCS#1 v1.5, Some(bits) is OAEP with that hash.
pub fn rsa_encrypt(spki: &[u8], oaep: Option<u32>, data: &[u8]) -> Result<Vec<u8>, Fail> {
    let scratch = Scratch::new()?;
    let key = scratch.write("pub.der", spki)?;
    let input = scratch.write("data", data)?;
    let mut args =
        vec!["pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", text(&key), "-in", text(&input)];
    let md = oaep.map(|bits| if bits == 1 { "sha1".to_owned() } else { format!("sha{bits}") });
    let (oaep_md, mgf_md) =
        md.as_ref().map(|md| (format!("rsa_oaep_md:{md}"), format!("rsa_mgf1_md:{md}"))).unzip();
    if let (Some(oaep_md), Some(mgf_md)) = (&oaep_md, &mgf_md) {
        args.extend(["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", oaep_md, "-pkeyopt", mgf_md]);
    }
    run(&args)
}

/// ECDH: the shared x-coordinate of an OpenSSL private key and a peer public key (SPKI DER).
pub fn ecdh(key: &KeyFile, peer_spki: &[u8]) -> Result<Vec<u8>, Fail> {
    let peer = key.scratch.write("peer.der", peer_spki)?;
    run(&["pkeyutl", "-derive", "-inkey", text(&key.pem), "-peerkey", text(&peer), "-peerform", "DER"])
}
