//! Custodian shares of a generated passphrase, end to end: `arcactl init --generate-passphrase
//! --shares 5 --threshold 3` prints five shares and no passphrase; after a restart, any three
//! unseal (from stdin or --share-file), two or a mistyped one change nothing; and the shares
//! rebuilt here, independently of arcactl, give the very passphrase the store was sealed with.

use std::process::Output;

use arca_tests::arcactl::{Arcactl as Cli, assert_generated, describe, parse, passphrase_launch};

/// Expects exit status `code` with `needle` in the error message, and nothing on stdout.
#[track_caller]
fn assert_fails(output: &Output, code: i32, needle: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", describe(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(needle), "{needle:?} not in {}", describe(output));
    assert!(output.stdout.is_empty(), "a failure prints nothing on stdout: {}", describe(output));
}

/// A passphrase-sealed store with cheap Argon2 settings, as in tests/sealing.rs.
/// GF(2^8) with the AES polynomial, the schoolbook way (not constant-time: test code only).
fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut product = 0;
    while b != 0 {
        if b & 1 == 1 {
            product ^= a;
        }
        let carry = a & 0x80 != 0;
        a <<= 1;
        if carry {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    product
}

fn gf_inverse(a: u8) -> u8 {
    (1..=255).find(|b| gf_mul(a, *b) == 1).unwrap()
}

/// The secret behind `arca-share-N-M-SPLIT-DIGITS` lines, by Lagrange interpolation at 0,
/// written from the documented format rather than from arcactl's code.
fn rebuild(lines: &[&str]) -> String {
    let shares: Vec<(u8, Vec<u8>)> = lines
        .iter()
        .map(|line| {
            let fields: Vec<&str> = line.split('-').collect();
            let digits = fields[5];
            let bytes: Vec<u8> = (0..digits.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
                .collect();
            (fields[2].parse().unwrap(), bytes[..bytes.len() - 4].to_vec())
        })
        .collect();
    let mut secret = vec![0u8; shares[0].1.len()];
    for (x, y) in &shares {
        let (mut numerator, mut denominator) = (1, 1);
        for (other, _) in shares.iter().filter(|(other, _)| other != x) {
            numerator = gf_mul(numerator, *other);
            denominator = gf_mul(denominator, other ^ x);
        }
        let weight = gf_mul(numerator, gf_inverse(denominator));
        for (out, byte) in secret.iter_mut().zip(y) {
            *out ^= gf_mul(weight, *byte);
        }
    }
    String::from_utf8(secret).unwrap()
}

#[test]
fn three_of_five_custodian_shares_unseal_and_two_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let launch = passphrase_launch(dir.path());
    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);

    // Refused before anything is created: a threshold above the count, shares without
    // --generate-passphrase.
    let above = cli.run(&["init", "--generate-passphrase", "--shares", "3", "--threshold", "4"]);
    assert_fails(&above, 2, "--threshold 4 is more than --shares 3");
    assert_fails(&cli.run(&["init", "--shares", "3", "--threshold", "2"]), 2, "--generate-passphrase");
    assert_eq!(cli.ok(&["status"])["initialized"], false);

    let args = ["init", "--generate-passphrase", "--shares", "5", "--threshold", "3"];
    let output = cli.run(&args);
    let created = parse(&output, &args);
    assert_eq!(created["initialized"], true, "{created}");
    assert_eq!(created["threshold"], 3, "{created}");
    assert!(created.get("passphrase").is_none(), "no passphrase is printed: {created}");
    let shares: Vec<String> =
        created["shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    assert_eq!(shares.len(), 5, "{created}");
    let split = shares[0].split('-').nth(4).unwrap().to_owned();
    for (number, share) in (1..).zip(&shares) {
        assert!(share.starts_with(&format!("arca-share-{number}-3-{split}-")), "{share}");
    }
    let warning = String::from_utf8_lossy(&output.stderr);
    assert!(warning.contains("WARNING: any 3 of these shares unseal the store"), "{warning}");

    let share = |number: usize| shares[number - 1].as_str();
    let passphrase = rebuild(&[share(2), share(4), share(5)]);
    assert_generated(&passphrase);
    assert_eq!(rebuild(&[share(1), share(3), share(2)]), passphrase, "any three agree");
    let everything = format!("{}{}", String::from_utf8_lossy(&output.stdout), warning);
    for group in passphrase.split('-') {
        assert!(!everything.contains(group), "init's output holds part of the passphrase: {everything}");
    }

    let key = cli.ok(&["create-key"])["key_metadata"]["key_id"].as_str().unwrap().to_owned();
    let blob = cli.ok(&["encrypt", "--key-id", &key, "--plaintext", "custody"])["ciphertext_blob"]
        .as_str()
        .unwrap()
        .to_owned();
    daemon.stop();

    // Restarted sealed: two shares are refused before the daemon is asked, and change nothing.
    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    assert_eq!(cli.ok(&["status"])["sealed"], true);
    let store = launch.data_dir.join("arca.redb");
    let before = std::fs::read(&store).unwrap();
    let two = cli.run_with_stdin(&["unseal", "--shares"], &format!("{}\n{}\n", share(2), share(5)));
    let needed = format!("1 more share(s) needed: 2 of the 3 shares of split {split} given (share 2, 5)");
    assert_fails(&two, 1, &needed);
    assert_eq!(std::fs::read(&store).unwrap(), before, "two shares leave the store untouched");
    assert_eq!(cli.ok(&["status"])["sealed"], true);

    // A mistyped share is named, also when enough others are given.
    let mut typo = share(3).to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == '0' { '1' } else { '0' });
    let mistyped =
        cli.run_with_stdin(&["unseal", "--shares"], &format!("{}\n{typo}\n{}\n", share(1), share(4)));
    assert_fails(&mistyped, 1, "line 2 of stdin: share 3 is mistyped or damaged");
    let twice =
        cli.run_with_stdin(&["unseal", "--shares"], &format!("{}\n{}\n{}\n", share(1), share(4), share(1)));
    assert_fails(&twice, 1, "line 3 of stdin: share 1 is given twice (also line 1 of stdin)");
    assert_eq!(cli.ok(&["status"])["sealed"], true);

    // Three of the five, in any order, from stdin.
    let three =
        cli.run_with_stdin(&["unseal", "--shares"], &format!("{}\n\n{}\n{}\n", share(5), share(1), share(3)));
    assert_eq!(parse(&three, &["unseal", "--shares"])["sealed"], false);
    let opened = cli.ok(&["decrypt", "--ciphertext-base64", &blob]);
    assert_eq!(opened["plaintext"], "Y3VzdG9keQ==", "base64 of \"custody\"");
    daemon.stop();

    // Three others, from files.
    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    let mut args = vec!["unseal".to_owned()];
    for number in [2, 3, 4] {
        let file = dir.path().join(format!("share-{number}.txt"));
        std::fs::write(&file, format!("{}\n", share(number))).unwrap();
        args.extend(["--share-file".to_owned(), file.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(cli.ok(&args)["sealed"], false);
    daemon.stop();

    // The shares hold the passphrase the store is sealed with: rebuilt here, it unseals.
    let daemon = launch.start();
    let cli = Cli::new(&daemon.socket);
    let unsealed = cli.command(&["unseal"]).env("ARCA_PASSPHRASE", &passphrase).output().unwrap();
    assert_eq!(parse(&unsealed, &["unseal"])["sealed"], false);
}
