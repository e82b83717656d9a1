//! Generates the simulator's ODA key pairs once (see `hsm-sim/src/card/pki.rs` and
//! `docs/capk.md`):
//!
//! ```text
//! cargo run -p hsm-sim --example gen_pki -- --out hsm-sim/testdata/pki
//! ```
//!
//! It writes one file per scheme into `--out` (CA, issuer and ICC key pairs, private parts
//! included: these are made-up test keys) and the simulator CA public keys, with their
//! checksums, into `--capk` (default `assets/capk/simulator.toml`). Rerunning it replaces every
//! key, so every certificate the virtual cards make changes with it; commit both outputs
//! together.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

// The example compiles the module on its own so it does not depend on `card.rs` declaring it.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/card/pki.rs"]
mod pki;

use pki::generate::{Sizes, scheme_file};

/// Generate the simulator CA, issuer and ICC keys.
#[derive(Parser)]
struct Args {
    /// Directory for the per-scheme key files.
    #[arg(long, default_value = "hsm-sim/testdata/pki")]
    out: PathBuf,
    /// File for the simulator CA public keys (CA key store format).
    #[arg(long, default_value = "assets/capk/simulator.toml")]
    capk: PathBuf,
}

/// The schemes, their RIDs and key sizes: CA > issuer > ICC, 1024-1984 bits, e = 3 or 65537.
/// The sizes differ per scheme so the tests cover both exponents and both the "key fits" and
/// "key has a remainder" certificate layouts.
const SCHEMES: [(&str, &str, [u8; 5], Sizes); 3] = [
    (
        "visa",
        "Visa",
        [0xA0, 0x00, 0x00, 0x00, 0x03],
        Sizes {
            ca: (1984, 3),
            issuer: (1792, 3),
            icc: (1152, 3),
            icc_count: 3,
        },
    ),
    (
        "mastercard",
        "Mastercard",
        [0xA0, 0x00, 0x00, 0x00, 0x04],
        Sizes {
            ca: (1408, 3),
            issuer: (1152, 65_537),
            icc: (1024, 3),
            icc_count: 3,
        },
    ),
    (
        "unionpay",
        "UnionPay",
        [0xA0, 0x00, 0x00, 0x03, 0x33],
        Sizes {
            ca: (1984, 65_537),
            issuer: (1408, 3),
            icc: (1152, 3),
            icc_count: 3,
        },
    ),
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut rng = OsRandom;
    let mut capk = String::from(
        "# CA public keys of the softpos simulator CA (hsm-sim/src/card/pki.rs), one per scheme,\n\
         # index D0. Made-up TEST keys: never trust them in production. Written by\n\
         # `cargo run -p hsm-sim --example gen_pki -- --out hsm-sim/testdata/pki`.\n\
         # Format: docs/capk.md.\n",
    );
    for (file, name, rid, sizes) in SCHEMES {
        eprintln!("generating {name} keys ...");
        let text = scheme_file(&mut rng, name, rid, sizes)?;
        let path = args.out.join(format!("{file}.toml"));
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        let scheme = pki::SimulatorPki::from_files(&[&text])?;
        for keys in scheme.schemes() {
            capk.push('\n');
            capk.push_str(&keys.ca_key_file_entry(&format!("softpos simulator CA, {name}")));
        }
    }
    std::fs::write(&args.capk, capk).with_context(|| format!("writing {}", args.capk.display()))?;
    eprintln!("wrote {} and {}", args.out.display(), args.capk.display());
    Ok(())
}

/// The operating system's random generator (getrandom) for the `rsa` crate's key generation.
struct OsRandom;

impl rsa::rand_core::RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // Not external input: without the OS random generator no key can be made at all.
        getrandom::fill(dest).expect("the OS random number generator is available");
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for OsRandom {}
