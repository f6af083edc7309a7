//! Versioned value codec: one version byte, then postcard.
//!
//! A value written by an older version of a type keeps its old version byte;
//! `decode` upgrades it (see `migrate.rs` for whole-table migrations).

use super::StoreError;
use serde::{Serialize, de::DeserializeOwned};

/// Version byte written in front of every value.
pub const VALUE_VERSION: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let out = vec![VALUE_VERSION];
    // Serializing plain data into a Vec cannot fail.
    postcard::to_extend(value, out).unwrap_or_else(|_| vec![VALUE_VERSION])
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Codec(e.to_string()))
        }
        Some((v, _)) => Err(StoreError::Codec(format!("unknown value version {v}"))),
        None => Err(StoreError::Codec("empty value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let v = (42u64, "hola".to_string(), Some(-3i64));
        let b = encode(&v);
        assert_eq!(b[0], VALUE_VERSION);
        let back: (u64, String, Option<i64>) = decode(&b).unwrap();
        assert_eq!(back, v);
        let mut bad = b.clone();
        bad[0] = 99;
        assert!(matches!(
            decode::<(u64, String, Option<i64>)>(&bad),
            Err(StoreError::Codec(_))
        ));
        assert!(decode::<u64>(&[]).is_err());
        assert!(decode::<(u64, String)>(&[VALUE_VERSION, 0xff]).is_err());
    }
}
