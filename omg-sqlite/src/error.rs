//! Mapping SQLite and I/O failures to [`omg::StorageError`].

use omg::{Error, StorageError, StorageErrorKind};
use rusqlite::ErrorCode;

/// Maps a SQLite error to an [`omg::Error::Storage`] of the matching kind.
pub(crate) fn sql(context: &str, error: rusqlite::Error) -> Error {
    let kind = match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StorageErrorKind::Full,
        Some(ErrorCode::ReadOnly) => StorageErrorKind::ReadOnly,
        Some(ErrorCode::DatabaseCorrupt) => StorageErrorKind::Corrupt,
        Some(ErrorCode::NotADatabase) => StorageErrorKind::NotADatabase,
        Some(ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => StorageErrorKind::Io,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StorageErrorKind::Busy,
        _ => StorageErrorKind::Other,
    };
    Error::Storage(StorageError::new(kind, format!("{context}: {error}")).with_source(error))
}

/// Maps an I/O error (creating or inspecting the file).
pub(crate) fn io(context: &str, error: std::io::Error) -> Error {
    let kind = match error.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            StorageErrorKind::ReadOnly
        }
        std::io::ErrorKind::StorageFull => StorageErrorKind::Full,
        _ => StorageErrorKind::Io,
    };
    Error::Storage(StorageError::new(kind, format!("{context}: {error}")).with_source(error))
}

/// A storage error of `kind` without an underlying error.
pub(crate) fn named(kind: StorageErrorKind, message: impl Into<String>) -> Error {
    Error::Storage(StorageError::new(kind, message))
}

/// The error of every call after [`close`](omg::storage::Storage::close).
pub(crate) fn closed() -> Error {
    named(StorageErrorKind::Closed, "the SQLite storage is closed")
}
