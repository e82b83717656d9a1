//! A terminal activated with a one-time code over the host's API, in process, as `softpos
//! activate` does, with a P-256 key of the test's own standing in for the PIN pad's.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use hsm_sim::host::activation as host_activation;
use softpos::acquirer::TerminalCredentials;
use softpos::activation::{self, ActivationCode, DeviceKey};

use super::support::World;

/// A terminal activated with a fresh code: its data directory and credentials.
pub struct Activated {
    pub data: PathBuf,
    pub credentials: TerminalCredentials,
}

/// Activates a new terminal of merchant M1 over the host's API into `world.dir/name`, as
/// `softpos activate` does, with a P-256 key of the test's own standing in for the PIN pad's.
pub fn activate(world: &World, name: &str) -> Activated {
    let host = world.host();
    let issued =
        host_activation::add_terminal(host.data_dir(), "M1", host_activation::DEFAULT_VALIDITY)
            .unwrap();
    let code = ActivationCode::parse(&issued.full()).unwrap();
    let device = DeviceKey::generate().unwrap();
    let pad = emv::crypto::key_wrap::generate_secret_key().unwrap();
    let pad_key = pad.public_key().to_sec1_bytes();
    let request = activation::signed_request(&code, &device, &pad_key).unwrap();
    let answer = activation::client::post(&host.api_addr().to_string(), &code, &request).unwrap();
    let data = world.dir.path().join(name);
    activation::install(&code, &device, &answer, &data.join("enrolment")).unwrap();
    let credentials = TerminalCredentials::load(&data.join("enrolment")).unwrap();
    Activated { data, credentials }
}

/// The engine of `terminal`, its attestor faking `findings` (`Engine::simulate_attestation`),
/// signed on.
pub fn engine(terminal: &Activated, findings: &str) -> softpos::engine::Engine {
    let mut engine = softpos::engine::Engine::open(
        &terminal.data,
        &terminal.credentials,
        super::support::terminal_config(""),
        super::support::simulator_oda(),
        super::support::engine_settings(std::time::Duration::from_secs(5)),
    )
    .unwrap();
    engine.simulate_attestation(findings);
    engine.sign_on().unwrap();
    engine
}
