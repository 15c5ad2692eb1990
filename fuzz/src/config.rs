//! The configuration file (`arcad --config`): TOML that is refused with an error or read into
//! settings within the limits the validation promises.

use arca_daemon::config::Settings;

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(settings) = Settings::from_toml(text) else { return };
    assert!(settings.max_request_bytes >= 8 * 1024, "max_request_bytes under the floor was accepted");
    assert!(!settings.service.key_generation_timeout.is_zero(), "a zero key generation timeout");
}
