//! The payment HSM: DUKPT, PIN blocks, ARQC/ARPC and MACs, with keys that never leave it.
//! (Being written.)

pub mod test_keys;
