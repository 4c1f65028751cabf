//! Paths in JSON (`scrub`'s manifest and report, `check --json`, `tail`'s
//! checkpoint), losslessly: a string where the path is UTF-8, else
//! `{"bytes": "<base64>"}` (as ripgrep's JSON output writes one). Unix
//! paths are bytes; an archive of old logs can hold names in Latin-1, and a
//! resumed run must find them again.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `path` as a JSON value.
pub(crate) fn value(path: &Path) -> serde_json::Value {
    match path.to_str() {
        Some(text) => text.into(),
        None => serde_json::json!({ "bytes": BASE64.encode(path.as_os_str().as_bytes()) }),
    }
}

/// For `#[serde(serialize_with)]`.
pub(crate) fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    value(path).serialize(s)
}

/// For `#[serde(deserialize_with)]`.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Json {
        Text(PathBuf),
        Bytes { bytes: String },
    }
    Ok(match Json::deserialize(d)? {
        Json::Text(path) => path,
        Json::Bytes { bytes } => {
            let bytes = BASE64.decode(bytes).map_err(serde::de::Error::custom)?;
            PathBuf::from(OsString::from_vec(bytes))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Entry {
        #[serde(with = "super")]
        path: PathBuf,
    }

    #[test]
    fn every_path_comes_back_as_it_was() {
        let latin1 = PathBuf::from(OsString::from_vec(b"logs/caf\xe9.log".to_vec()));
        for path in [PathBuf::from("logs/app.log"), PathBuf::from("logs/new\nline.log"), latin1] {
            let json = serde_json::to_string(&Entry { path: path.clone() }).unwrap();
            assert_eq!(serde_json::from_str::<Entry>(&json).unwrap().path, path, "{json}");
        }
        assert_eq!(value(Path::new("a.log")), serde_json::json!("a.log"));
        let latin1 = Path::new(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        assert_eq!(value(latin1), serde_json::json!({ "bytes": "Y2Fm6Q==" }));
    }
}
