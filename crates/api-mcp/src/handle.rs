//! The id of one file of one vector store, as `search` gives it and `fetch` takes it. It is a
//! handle, not a capability: `fetch` looks the store up within the caller's tenant every
//! time, so another tenant's handle names nothing.

/// What separates the store's id from the file's. A store's id never holds it; a document's id
/// may, so a handle is split at its first one.
const SEPARATOR: char = '~';

/// The handle of `file_id` in `store_id`.
pub fn encode(store_id: &str, file_id: &str) -> String {
    format!("{store_id}{SEPARATOR}{file_id}")
}

/// The store's and the file's ids in `handle`, or `None` when it is no handle.
pub fn decode(handle: &str) -> Option<(&str, &str)> {
    let (store, file) = handle.split_once(SEPARATOR)?;
    let ok = |s: &str| !s.is_empty() && !s.contains('\0');
    (ok(store) && ok(file)).then_some((store, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_gives_back_its_store_and_file() {
        let h = encode("vs_abc", "file-123");
        assert_eq!(decode(&h), Some(("vs_abc", "file-123")));
        // A document's id may hold the separator.
        let h = encode("vs_abc", "notes~1");
        assert_eq!(decode(&h), Some(("vs_abc", "notes~1")));
    }

    #[test]
    fn what_is_no_handle_is_refused() {
        for bad in ["", "vs_abc", "~file", "vs~", "a\0~b", "a~b\0"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
