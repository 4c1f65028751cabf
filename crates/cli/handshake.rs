//! The Forward protocol's shared-key handshake (HELO, PING, PONG), as
//! Fluentd's `<security>` and Fluent Bit's `Shared_Key` speak it.
//!
//! The server opens with `["HELO", {"nonce": bin, "keepalive": true}]`.
//! The client answers `["PING", hostname, salt, digest, "", ""]`, the digest
//! being the hex SHA-512 of salt, client hostname, nonce and key. The
//! server checks it and answers `["PONG", true, "", hostname, digest]`, with
//! its own hostname in the digest, so that the client knows the server
//! holds the key too; or `["PONG", false, reason, "", ""]`, and closes.
//! User/password auth is not supported: a HELO offering it is answered
//! without it.

use rmpv::Value;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

use crate::msgpack;

/// A shared key and the hostname this side gives the other.
#[derive(Clone)]
pub struct SharedKey {
    key: Vec<u8>,
    hostname: String,
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKey").field("hostname", &self.hostname).finish_non_exhaustive()
    }
}

/// Sixteen random bytes, for nonces and salts.
pub fn random16() -> [u8; 16] {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .expect("the system's random source is readable");
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hexdigest(parts: &[&[u8]]) -> String {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    hex(&h.finalize())
}

/// What a client remembers between its PING and the server's PONG.
pub struct Pending {
    salt: String,
    nonce: Vec<u8>,
}

/// A msgpack str or bin, as bytes (peers differ in which they send).
fn raw(v: &Value) -> Option<&[u8]> {
    match v {
        Value::String(s) => Some(s.as_bytes()),
        Value::Binary(b) => Some(b),
        _ => None,
    }
}

fn encode(v: Value) -> Vec<u8> {
    let mut out = Vec::new();
    msgpack::encode(&v, &mut out);
    out
}

impl SharedKey {
    /// The key (never shown by `Debug`), and this side's hostname.
    pub fn new(key: Vec<u8>, hostname: String) -> SharedKey {
        SharedKey { key, hostname }
    }

    fn digest(&self, salt: &[u8], hostname: &[u8], nonce: &[u8]) -> String {
        hexdigest(&[salt, hostname, nonce, &self.key])
    }

    /// Server: the HELO carrying `nonce`.
    pub fn helo(nonce: &[u8]) -> Vec<u8> {
        let options =
            vec![(Value::from("nonce"), Value::Binary(nonce.to_vec())), (Value::from("keepalive"), Value::from(true))];
        encode(Value::Array(vec![Value::from("HELO"), Value::Map(options)]))
    }

    /// Server: checks a PING against `nonce`; the PONG to send, and whether
    /// the client is in (the reason it is not, otherwise).
    pub fn pong(&self, ping: &Value, nonce: &[u8]) -> (Vec<u8>, Result<(), String>) {
        let checked = (|| {
            let Value::Array(p) = ping else { return Err("not a PING".to_string()) };
            if p.len() != 6 || p[0].as_str() != Some("PING") {
                return Err("not a PING".to_string());
            }
            let (host, salt, digest) = (raw(&p[1]), raw(&p[2]), raw(&p[3]));
            let (Some(host), Some(salt), Some(digest)) = (host, salt, digest) else {
                return Err("malformed PING".to_string());
            };
            let expected = self.digest(salt, host, nonce);
            if !bool::from(expected.as_bytes().ct_eq(digest)) {
                return Err("shared key mismatch".to_string());
            }
            Ok(salt.to_vec())
        })();
        let pong = match &checked {
            Ok(salt) => vec![
                Value::from("PONG"),
                Value::from(true),
                Value::from(""),
                Value::from(self.hostname.as_str()),
                Value::from(self.digest(salt, self.hostname.as_bytes(), nonce)),
            ],
            Err(reason) => {
                vec![
                    Value::from("PONG"),
                    Value::from(false),
                    Value::from(reason.as_str()),
                    Value::from(""),
                    Value::from(""),
                ]
            }
        };
        (encode(Value::Array(pong)), checked.map(|_| ()))
    }

    /// Client: the PING answering a HELO (with a fresh salt, in hex as
    /// Fluentd's), and what checking the PONG needs.
    pub fn ping(&self, helo: &Value) -> Result<(Vec<u8>, Pending), String> {
        let Value::Array(h) = helo else { return Err("expected HELO".into()) };
        if h.len() != 2 || h[0].as_str() != Some("HELO") {
            return Err("expected HELO".into());
        }
        let Value::Map(options) = &h[1] else { return Err("HELO without options".into()) };
        let nonce = options
            .iter()
            .find(|(k, _)| k.as_str() == Some("nonce"))
            .and_then(|(_, v)| raw(v))
            .ok_or("HELO without a nonce")?
            .to_vec();
        let salt = hex(&random16());
        let ping = vec![
            Value::from("PING"),
            Value::from(self.hostname.as_str()),
            Value::from(salt.as_str()),
            Value::from(self.digest(salt.as_bytes(), self.hostname.as_bytes(), &nonce)),
            Value::from(""),
            Value::from(""),
        ];
        Ok((encode(Value::Array(ping)), Pending { salt, nonce }))
    }

    /// Client: checks the server's PONG.
    pub fn check_pong(&self, pong: &Value, pending: &Pending) -> Result<(), String> {
        let Value::Array(p) = pong else { return Err("expected PONG".into()) };
        if p.len() != 5 || p[0].as_str() != Some("PONG") {
            return Err("expected PONG".into());
        }
        if p[1].as_bool() != Some(true) {
            let reason = p[2].as_str().unwrap_or("no reason given");
            return Err(format!("refused by the downstream: {reason}"));
        }
        let (Some(host), Some(digest)) = (raw(&p[3]), raw(&p[4])) else { return Err("malformed PONG".into()) };
        if !bool::from(self.digest(pending.salt.as_bytes(), host, &pending.nonce).as_bytes().ct_eq(digest)) {
            return Err("the downstream does not hold the shared key".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, host: &str) -> SharedKey {
        SharedKey::new(k.as_bytes().to_vec(), host.into())
    }

    #[test]
    fn both_sides_agree_with_the_same_key() {
        let (server, client) = (key("k", "server"), key("k", "client"));
        let nonce = random16();
        let helo = msgpack::decode(&SharedKey::helo(&nonce)).unwrap();
        let (ping, pending) = client.ping(&helo).unwrap();
        assert_eq!(pending.nonce, nonce);
        let (pong, ok) = server.pong(&msgpack::decode(&ping).unwrap(), &nonce);
        assert_eq!(ok, Ok(()));
        client.check_pong(&msgpack::decode(&pong).unwrap(), &pending).unwrap();
    }

    #[test]
    fn a_wrong_key_is_refused_both_ways() {
        let nonce = random16();
        let helo = msgpack::decode(&SharedKey::helo(&nonce)).unwrap();
        let (ping, pending) = key("wrong", "client").ping(&helo).unwrap();
        let (pong, ok) = key("k", "server").pong(&msgpack::decode(&ping).unwrap(), &nonce);
        assert_eq!(ok, Err("shared key mismatch".to_string()));
        let err = key("wrong", "client").check_pong(&msgpack::decode(&pong).unwrap(), &pending).unwrap_err();
        assert_eq!(err, "refused by the downstream: shared key mismatch");
        // A server that accepts anyone but does not hold the key is caught:
        // it cannot make the PONG's digest.
        let (_, pending) = key("k", "client").ping(&helo).unwrap();
        let forged = SharedKey::new(b"other".to_vec(), "server".into());
        let pong = Value::Array(vec![
            Value::from("PONG"),
            Value::from(true),
            Value::from(""),
            Value::from("server"),
            Value::from(forged.digest(pending.salt.as_bytes(), b"server", &nonce)),
        ]);
        assert!(key("k", "client").check_pong(&pong, &pending).is_err());
    }

    #[test]
    fn a_forward_message_is_not_a_ping() {
        let msg = Value::Array(vec![Value::from("tag"), Value::from(1), Value::Map(vec![])]);
        let (_, ok) = key("k", "s").pong(&msg, &random16());
        assert_eq!(ok, Err("not a PING".to_string()));
    }

    #[test]
    fn the_key_is_not_in_debug_output() {
        assert!(!format!("{:?}", key("hunter2", "h")).contains("hunter2"));
    }

    #[test]
    fn digest_matches_a_known_value() {
        // sha512("") as hex, the digest of all-empty parts.
        assert!(hexdigest(&[b"", b""]).starts_with("cf83e1357eefb8bdf1542850d66d8007"));
    }
}
