//! `arcactl unseal --shares`: collecting custodians' shares (from files, piped stdin, or typed
//! without echo), checking that they are distinct valid shares of one split, and rebuilding the
//! passphrase from them. Each refusal names the share and where it came from.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;

use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::error::CliError;
use crate::passphrase::{self, Passphrase};
use crate::shamir::{self, RawShare};
use crate::shares::{self, Share};

/// At most this much is read from stdin or a share file (255 shares fit many times over).
const MAX_INPUT: usize = 256 * 1024;

/// The shares given so far, each with where it came from.
#[derive(Debug, Default)]
pub(crate) struct ShareSet {
    entries: Vec<(Share, String)>,
}

impl ShareSet {
    /// Adds the share written in `text`; `source` names where it came from in errors. Refuses a
    /// malformed or mistyped share, a share of another split, and a share number given twice.
    pub(crate) fn add(&mut self, text: &str, source: String) -> Result<(), CliError> {
        let share = shares::parse(text).map_err(|error| CliError::Input(format!("{source}: {error}")))?;
        let number = share.index;
        if let Some((first, first_source)) = self.entries.first()
            && (first.split != share.split || first.threshold != share.threshold)
        {
            return Err(CliError::Input(format!(
                "{source}: share {number} belongs to another split ({}, not {} like {first_source})",
                split_label(&share),
                split_label(first),
            )));
        }
        if let Some((same, same_source)) = self.entries.iter().find(|(other, _)| other.index == number) {
            let message = if bool::from(same.y.as_slice().ct_eq(&share.y)) {
                format!("{source}: share {number} is given twice (also {same_source})")
            } else {
                format!("{source}: share {number} differs from the share {number} of {same_source}")
            };
            return Err(CliError::Input(message));
        }
        self.entries.push((share, source));
        Ok(())
    }

    /// How many shares unseal, once one share is known.
    pub(crate) fn threshold(&self) -> Option<u8> {
        self.entries.first().map(|(share, _)| share.threshold)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.threshold().is_some_and(|threshold| self.entries.len() >= usize::from(threshold))
    }

    /// The passphrase, from all the shares given (which must be at least the threshold).
    pub(crate) fn rebuild(self) -> Result<Passphrase, CliError> {
        let Some((first, _)) = self.entries.first() else {
            return Err(CliError::Input(
                "no share given: one share per line on stdin, or --share-file FILE per share".into(),
            ));
        };
        let needed = usize::from(first.threshold);
        if self.entries.len() < needed {
            let have: Vec<String> = self.entries.iter().map(|(share, _)| share.index.to_string()).collect();
            return Err(CliError::Input(format!(
                "{} more share(s) needed: {} of the {needed} shares of split {} given (share {})",
                needed - have.len(),
                have.len(),
                shares::split_name(&first.split),
                have.join(", "),
            )));
        }
        let raw: Vec<RawShare> =
            self.entries.into_iter().map(|(share, _)| RawShare { x: share.index, y: share.y }).collect();
        let secret = shamir::combine(&raw).map_err(|error| CliError::Input(error.to_string()))?;
        if !passphrase::is_generated(&secret) {
            return Err(CliError::Input(
                "the shares do not rebuild a passphrase that `arcactl init` generated: one of them is \
                 not genuine (it is well-formed, so it was not mistyped but made up)"
                    .into(),
            ));
        }
        let text =
            std::str::from_utf8(&secret).map_err(|_| CliError::Input("the shares rebuild no text".into()))?;
        let mut passphrase = Zeroizing::new(String::with_capacity(text.len()));
        passphrase.push_str(text);
        Ok(passphrase)
    }
}

fn split_label(share: &Share) -> String {
    format!("split {}, {} needed", shares::split_name(&share.split), share.threshold)
}

/// The passphrase from the shares in `files` (one or more per file), else on stdin: one per line
/// when piped, typed without echo on a terminal until enough are given (an empty line stops).
pub(crate) fn read(files: &[PathBuf]) -> Result<Passphrase, CliError> {
    let mut set = ShareSet::default();
    if !files.is_empty() {
        for path in files {
            let bytes = Zeroizing::new(
                std::fs::read(path).map_err(CliError::io(format!("cannot read {}", path.display())))?,
            );
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                CliError::Input(format!("{} is not a share file (not UTF-8)", path.display()))
            })?;
            add_lines(&mut set, text, |line| format!("{} line {line}", path.display()))?;
        }
    } else if std::io::stdin().is_terminal() {
        prompt(&mut set)?;
    } else {
        let text = stdin_text()?;
        add_lines(&mut set, &text, |line| format!("line {line} of stdin"))?;
    }
    set.rebuild()
}

fn add_lines(set: &mut ShareSet, text: &str, source: impl Fn(usize) -> String) -> Result<(), CliError> {
    for (line, share) in (1..).zip(text.lines()) {
        if !share.trim().is_empty() {
            set.add(share, source(line))?;
        }
    }
    Ok(())
}

/// All of stdin, read into a buffer allocated once so that no copy is left behind unwiped.
fn stdin_text() -> Result<Zeroizing<String>, CliError> {
    let mut text = Zeroizing::new(String::with_capacity(MAX_INPUT + 1));
    let limit = u64::try_from(MAX_INPUT + 1).unwrap_or(u64::MAX);
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_string(&mut text)
        .map_err(CliError::io("cannot read the shares from stdin"))?;
    if text.len() > MAX_INPUT {
        return Err(CliError::Input(format!(
            "more than {MAX_INPUT} bytes on stdin: that is not a list of shares"
        )));
    }
    Ok(text)
}

/// Asks for shares on the terminal, without echo, until the threshold is reached or an empty line
/// is typed. A refused share is reported and can be typed again.
fn prompt(set: &mut ShareSet) -> Result<(), CliError> {
    let mut typed = 0usize;
    while !set.is_complete() {
        let asked = match set.threshold() {
            Some(threshold) => format!("Share {} of {threshold} (empty to stop): ", typed + 1),
            None => "Share 1 (empty to stop): ".to_owned(),
        };
        let text = rpassword::prompt_password(asked)
            .map(Zeroizing::new)
            .map_err(CliError::io("cannot read a share from the terminal"))?;
        if text.trim().is_empty() {
            break;
        }
        match set.add(&text, format!("typed share {}", typed + 1)) {
            Ok(()) => typed += 1,
            Err(error) => {
                let _ = writeln!(std::io::stderr().lock(), "arcactl: {error}; type it again");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shares::split_passphrase;

    fn set_of(lines: &[&str]) -> Result<ShareSet, CliError> {
        let mut set = ShareSet::default();
        add_lines(&mut set, &lines.join("\n"), |line| format!("line {line}"))?;
        Ok(set)
    }

    fn error(result: Result<impl std::fmt::Debug, CliError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn any_three_of_five_rebuild_the_passphrase() {
        let passphrase = passphrase::generate().unwrap();
        let lines = split_passphrase(&passphrase, 3, 5).unwrap();
        let text: Vec<&str> = lines.iter().map(|line| line.as_str()).collect();
        for picked in [[0, 1, 2], [4, 2, 0], [1, 3, 4], [3, 0, 4]] {
            let set = set_of(&picked.map(|i| text[i])).unwrap();
            assert!(set.is_complete());
            assert_eq!(*set.rebuild().unwrap(), *passphrase);
        }
        assert_eq!(*set_of(&text).unwrap().rebuild().unwrap(), *passphrase, "all five work too");
        let spaced = format!("\n  {}\n\n{}\r\n{}\n", text[1], text[3], text[0]);
        let mut set = ShareSet::default();
        add_lines(&mut set, &spaced, |line| format!("line {line}")).unwrap();
        assert_eq!(*set.rebuild().unwrap(), *passphrase, "blank lines and CRLF are fine");
    }

    #[test]
    fn fewer_than_the_threshold_are_refused_and_the_missing_count_named() {
        let lines = split_passphrase(&passphrase::generate().unwrap(), 3, 5).unwrap();
        let set = set_of(&[&lines[1], &lines[4]]).unwrap();
        assert!(!set.is_complete());
        let message = error(set.rebuild());
        assert!(message.starts_with("1 more share(s) needed: 2 of the 3 shares of split "), "{message}");
        assert!(message.ends_with("given (share 2, 5)"), "{message}");
        assert!(error(ShareSet::default().rebuild()).starts_with("no share given"));
    }

    #[test]
    fn a_mistyped_share_is_named_by_number_and_line() {
        let lines = split_passphrase(&passphrase::generate().unwrap(), 2, 3).unwrap();
        let flip = |position: usize| {
            let mut bytes = lines[2].as_bytes().to_vec();
            bytes[position] = if bytes[position] == b'0' { b'1' } else { b'0' };
            String::from_utf8(bytes).unwrap()
        };
        let (in_the_share, in_the_checksum) = (flip(lines[2].len() - 40), flip(lines[2].len() - 1));
        for bad in [in_the_share, in_the_checksum] {
            let message = error(set_of(&[&lines[0], &bad]));
            assert_eq!(message, "line 2: share 3 is mistyped or damaged: its checksum does not match");
        }
        assert!(error(set_of(&["hello"])).starts_with("line 1: not an Arca share (no arca-share- prefix"));
    }

    #[test]
    fn shares_of_two_splits_are_refused() {
        let passphrase = passphrase::generate().unwrap();
        let first = split_passphrase(&passphrase, 2, 3).unwrap();
        let second = split_passphrase(&passphrase, 2, 3).unwrap();
        let message = error(set_of(&[&first[0], &second[1]]));
        assert!(message.starts_with("line 2: share 2 belongs to another split (split "), "{message}");
        assert!(message.ends_with(", 2 needed like line 1)"), "{message}");
        let other_threshold = split_passphrase(&passphrase, 3, 3).unwrap();
        assert!(error(set_of(&[&first[0], &other_threshold[1]])).contains("belongs to another split"));
    }

    #[test]
    fn a_share_given_twice_is_named() {
        let lines = split_passphrase(&passphrase::generate().unwrap(), 2, 3).unwrap();
        let message = error(set_of(&[&lines[1], &lines[0], &lines[1]]));
        assert_eq!(message, "line 3: share 2 is given twice (also line 1)");
    }

    #[test]
    fn a_forged_share_with_a_valid_checksum_is_caught_after_rebuilding() {
        let lines = split_passphrase(&passphrase::generate().unwrap(), 2, 3).unwrap();
        let genuine = shares::parse(&lines[1]).unwrap();
        // With shares 1 and 2, share 2 weighs 1 / (1 - 2) = 1/3 at 0: adding 3 × 0x80 to each of
        // its bytes adds 0x80 to each byte of the passphrase, which then is no longer ASCII.
        let mut y = genuine.y.clone();
        y.iter_mut().for_each(|byte| *byte ^= shamir::mul(0x80, 3));
        let forged = shares::encode(&Share { y, ..genuine });
        let message = error(set_of(&[&lines[0], &forged]).unwrap().rebuild());
        assert!(message.contains("not genuine"), "{message}");
        let conflict = error(set_of(&[&lines[1], &forged]));
        assert_eq!(conflict, "line 2: share 2 differs from the share 2 of line 1");
    }
}
