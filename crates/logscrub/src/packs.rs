//! The rule packs embedded in the library: the files in `patterns/`.

/// `(file name, contents)` of every embedded pack, in load order.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    ("http.toml", include_str!("../../../patterns/http.toml")),
    ("url.toml", include_str!("../../../patterns/url.toml")),
    ("connection-strings.toml", include_str!("../../../patterns/connection-strings.toml")),
    ("secrets.toml", include_str!("../../../patterns/secrets.toml")),
    ("providers.toml", include_str!("../../../patterns/providers.toml")),
    ("private-keys.toml", include_str!("../../../patterns/private-keys.toml")),
    ("pii.toml", include_str!("../../../patterns/pii.toml")),
    ("phones-national.toml", include_str!("../../../patterns/phones-national.toml")),
    ("national-ids.toml", include_str!("../../../patterns/national-ids.toml")),
    ("network.toml", include_str!("../../../patterns/network.toml")),
];
