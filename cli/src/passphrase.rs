//! The passphrase: read from a file, the environment or stdin (without echo on a terminal), or
//! generated from the OS random number generator. Every copy made here is wiped when dropped.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;

use subtle::{Choice, ConstantTimeEq as _};
use zeroize::Zeroizing;

use crate::error::CliError;

/// A passphrase, wiped from memory when dropped.
pub(crate) type Passphrase = Zeroizing<String>;

/// The characters of a generated passphrase: digits and lowercase letters without 0/o, 1/l/i,
/// which are easily misread.
const ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// A generated passphrase has this many groups of [`GROUP_LEN`] characters, joined by `-`:
/// 30 × log2(31) ≈ 148.6 bits.
const GROUPS: usize = 6;
const GROUP_LEN: usize = 5;
/// Random bytes at or above this are redrawn, so that every character is equally likely.
const UNBIASED_LIMIT: usize = 256 - 256 % ALPHABET.len();

/// Which secret is read, and from where besides a file and stdin.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SecretKind {
    /// The environment variable that may hold it.
    pub env: &'static str,
    /// How it is named in prompts and errors ("passphrase", "SO PIN" …).
    pub name: &'static str,
}

pub(crate) const PASSPHRASE: SecretKind = SecretKind { env: "ARCA_PASSPHRASE", name: "passphrase" };

/// --passphrase-file, else $ARCA_PASSPHRASE, else stdin (asked twice when `confirm` and stdin is a
/// terminal).
pub(crate) fn read(file: Option<&Path>, confirm: bool) -> Result<Passphrase, CliError> {
    read_secret(PASSPHRASE, file, confirm)
}

/// A secret from `file`, else the kind's environment variable, else stdin (without echo on a
/// terminal, twice when `confirm`).
pub(crate) fn read_secret(
    kind: SecretKind,
    file: Option<&Path>,
    confirm: bool,
) -> Result<Passphrase, CliError> {
    let text = if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(CliError::io(format!("cannot read {}", path.display())))?;
        strip_newline(Zeroizing::new(text))
    } else if let Some(text) = std::env::var_os(kind.env) {
        Zeroizing::new(
            text.into_string().map_err(|_| CliError::Input(format!("{} is not valid UTF-8", kind.env)))?,
        )
    } else {
        from_stdin(kind, confirm)?
    };
    if text.is_empty() {
        return Err(CliError::Input(format!("the {} is empty", kind.name)));
    }
    Ok(text)
}

/// Typed without echo when stdin is a terminal (and typed twice when `confirm`); otherwise the
/// first line of stdin.
fn from_stdin(kind: SecretKind, confirm: bool) -> Result<Passphrase, CliError> {
    if !std::io::stdin().is_terminal() {
        return read_line();
    }
    let first = prompt_hidden(&format!("{}: ", capitalized(kind.name)))?;
    if confirm && *prompt_hidden(&format!("Repeat the {}: ", kind.name))? != *first {
        return Err(CliError::Input(format!("the {}s differ", kind.name)));
    }
    Ok(first)
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Prompts on the terminal and reads a line with echo off; the terminal is restored afterwards,
/// also on Ctrl-C.
fn prompt_hidden(prompt: &str) -> Result<Passphrase, CliError> {
    rpassword::prompt_password(prompt)
        .map(Zeroizing::new)
        .map_err(CliError::io("cannot read the passphrase from the terminal"))
}

fn read_line() -> Result<Passphrase, CliError> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CliError::io("cannot read the passphrase from stdin"))?;
    Ok(strip_newline(line))
}

fn strip_newline(mut text: Passphrase) -> Passphrase {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

/// A new random passphrase: [`GROUPS`] groups of [`GROUP_LEN`] characters of [`ALPHABET`], e.g.
/// `k7wq2-…`, drawn from the OS random number generator without bias.
pub(crate) fn generate() -> Result<Passphrase, CliError> {
    let mut text = Zeroizing::new(String::with_capacity(GROUPS * (GROUP_LEN + 1)));
    for group in 0..GROUPS {
        if group > 0 {
            text.push('-');
        }
        for _ in 0..GROUP_LEN {
            text.push(random_character()?);
        }
    }
    Ok(text)
}

fn random_character() -> Result<char, CliError> {
    loop {
        let mut byte = Zeroizing::new([0u8; 1]);
        getrandom::fill(byte.as_mut_slice()).map_err(|e| CliError::Random(e.to_string()))?;
        let [value] = *byte;
        let value = usize::from(value);
        if value < UNBIASED_LIMIT
            && let Some(character) = ALPHABET.get(value % ALPHABET.len())
        {
            return Ok(char::from(*character));
        }
    }
}

/// Whether `bytes` has the form of a generated passphrase. Only the length and the positions
/// decide branches: each character is compared with every allowed one, in constant time.
pub(crate) fn is_generated(bytes: &[u8]) -> bool {
    if bytes.len() != GROUPS * (GROUP_LEN + 1) - 1 {
        return false;
    }
    let valid = bytes.iter().enumerate().fold(Choice::from(1), |valid, (position, byte)| {
        let allowed = if (position + 1).is_multiple_of(GROUP_LEN + 1) {
            byte.ct_eq(&b'-')
        } else {
            ALPHABET.iter().fold(Choice::from(0), |found, character| found | byte.ct_eq(character))
        };
        valid & allowed
    });
    valid.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_stripped() {
        let strip = |text: &str| strip_newline(Zeroizing::new(text.to_owned())).to_string();
        assert_eq!(strip("pw\r\n"), "pw");
        assert_eq!(strip("pw\n\n"), "pw\n");
        assert_eq!(strip("pw"), "pw");
    }

    #[test]
    fn generated_passphrases_are_six_groups_of_five_unambiguous_characters() {
        let first = generate().unwrap();
        let groups: Vec<&str> = first.split('-').collect();
        assert_eq!(groups.len(), GROUPS, "{}", *first);
        for group in groups {
            assert_eq!(group.len(), GROUP_LEN);
            assert!(group.bytes().all(|c| ALPHABET.contains(&c)), "{group}");
        }
        assert_ne!(*first, *generate().unwrap());
        assert!(is_generated(first.as_bytes()));
        assert_eq!(UNBIASED_LIMIT, 248);
        let bits = (GROUPS * GROUP_LEN) as f64 * (ALPHABET.len() as f64).log2();
        assert!(bits >= 128.0, "{bits}");
    }

    #[test]
    fn only_the_generated_form_is_recognised() {
        assert!(is_generated(b"k7wq2-abcde-fghjk-mnpqr-stuvw-xyz23"));
        for other in [
            &b"k7wq2-abcde-fghjk-mnpqr-stuvw-xyz2"[..],
            b"k7wq2-abcde-fghjk-mnpqr-stuvw-xyz234",
            b"k7wq2-abcde-fghjk-mnpqr-stuvwxxyz23",
            b"k7wq2-abcde-fghjk-mnpqr-stuvw-xyz21",
            b"K7wq2-abcde-fghjk-mnpqr-stuvw-xyz23",
            b"k7wq2-abcde-fghjk-mnpqr-stuvw-xyz2\xff",
        ] {
            assert!(!is_generated(other), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn the_alphabet_has_no_confusable_characters() {
        for confusable in b"01ilo" {
            assert!(!ALPHABET.contains(confusable));
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len());
    }
}
