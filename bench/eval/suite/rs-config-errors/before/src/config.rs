#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub name: String,
    pub port: u16,
    pub debug: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { name: "service".to_string(), port: 8080, debug: false }
    }
}

/// Read `key=value` lines (keys: name, port, debug) over the defaults.
pub fn parse(text: &str) -> Result<Config, String> {
    let mut config = Config::default();
    for line in text.lines() {
        let (key, value) = line.split_once('=').unwrap();
        match key {
            "name" => config.name = value.to_string(),
            "port" => config.port = value.parse().unwrap(),
            "debug" => config.debug = value == "true",
            _ => {}
        }
    }
    Ok(config)
}
