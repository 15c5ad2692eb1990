//! backup: the daemon's archive of the sealed store, streamed into a file that appears only once
//! complete.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use arca_proto::v1 as pb;

use crate::cli::BackupArgs;
use crate::error::CliError;
use crate::output::Record;
use crate::progress::ByteCount;
use crate::session::Session;

/// Receives the archive into `FILE.partial` (mode 0600), flushes it to disk and renames it to
/// FILE; on an error or Ctrl-C the partial file is removed and FILE is left as it was.
pub(crate) async fn backup(session: &Session, args: BackupArgs) -> Result<Record, CliError> {
    if is_special_file(&args.out) {
        return backup_to_special_file(session, &args.out).await;
    }
    let partial = partial_path(&args.out);
    let file = create_partial(&partial)?;
    let outcome = tokio::select! {
        outcome = receive(session, file, &partial, &args.out) => outcome,
        _ = tokio::signal::ctrl_c() => {
            Err(CliError::Interrupted(format!("backup to {} abandoned", args.out.display())))
        }
    };
    match outcome {
        Ok(bytes) => Ok(Record::new().with("path", args.out.display().to_string()).with("bytes", bytes)),
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// An existing device, pipe or socket (`/dev/null`, `/dev/stdout`, a FIFO): no partial file can
/// be renamed onto it, and fsync means nothing there.
fn is_special_file(out: &Path) -> bool {
    std::fs::metadata(out).is_ok_and(|meta| !meta.is_file() && !meta.is_dir())
}

/// Streams the archive straight into a special file.
async fn backup_to_special_file(session: &Session, out: &Path) -> Result<Record, CliError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(out)
        .map_err(CliError::io(format!("cannot open {}", out.display())))?;
    let bytes = stream_archive(session, file, out).await?.1;
    Ok(Record::new().with("path", out.display().to_string()).with("bytes", bytes))
}

/// `FILE.partial`, beside FILE so that the rename stays within one file system.
fn partial_path(out: &Path) -> PathBuf {
    let mut name = OsString::from(out.as_os_str());
    name.push(".partial");
    PathBuf::from(name)
}

/// A new partial file readable only by its owner; one left by an earlier, killed backup is
/// replaced. `create_new` does not follow a symbolic link planted at the path.
fn create_partial(partial: &Path) -> Result<File, CliError> {
    let context = || format!("cannot create {}", partial.display());
    match std::fs::remove_file(partial) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(CliError::io(context())(error));
        }
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(partial)
        .map_err(CliError::io(context()))
}

/// Streams the archive into `file`, then publishes it as `out`; returns its size.
async fn receive(session: &Session, file: File, partial: &Path, out: &Path) -> Result<u64, CliError> {
    let (file, bytes) = stream_archive(session, file, partial).await?;
    file.sync_all().map_err(CliError::io(format!("cannot flush {}", partial.display())))?;
    drop(file);
    publish(partial, out)?;
    Ok(bytes)
}

/// Writes the daemon's archive into `file` (named `path` in errors); returns it and the size.
async fn stream_archive(session: &Session, mut file: File, path: &Path) -> Result<(File, u64), CliError> {
    let mut chunks = session.call(session.admin().backup(session.request(pb::BackupRequest {}))).await?;
    let mut progress = ByteCount::new("backup");
    let mut bytes: u64 = 0;
    while let Some(chunk) = session.next(&mut chunks).await? {
        file.write_all(&chunk.data).map_err(CliError::io(format!("cannot write {}", path.display())))?;
        bytes += chunk.data.len() as u64;
        progress.update(bytes);
    }
    drop(progress);
    if bytes == 0 {
        return Err(CliError::Input("the daemon sent an empty archive".to_owned()));
    }
    Ok((file, bytes))
}

/// Renames the complete archive into place and makes the rename durable.
fn publish(partial: &Path, out: &Path) -> Result<(), CliError> {
    std::fs::rename(partial, out).map_err(CliError::io(format!(
        "cannot rename {} to {}",
        partial.display(),
        out.display()
    )))?;
    let parent = out.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(CliError::io(format!("cannot flush the directory {}", parent.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_sits_beside_the_target() {
        assert_eq!(partial_path(Path::new("/srv/b/arca.bak")), Path::new("/srv/b/arca.bak.partial"));
        assert_eq!(partial_path(Path::new("arca")), Path::new("arca.partial"));
    }

    #[test]
    fn a_stale_partial_file_is_replaced_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("x.partial");
        std::fs::write(&partial, b"stale").unwrap();
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(create_partial(&partial).unwrap());
        let metadata = std::fs::metadata(&partial).unwrap();
        assert_eq!(metadata.len(), 0);
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    }
}
