//! Read access to the replayed record DAG, for the review commands (`log`, `audit`):
//! the roster and the key wraps are in clear, so the history is read from the records
//! themselves. Nothing here decrypts.

use super::Vault;
use crate::format::StoredRecord;

impl Vault {
    /// Every record, in canonical (file, replay) order.
    pub fn records(&self) -> &[StoredRecord] {
        &self.file.records
    }
}
