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
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {number}: expected key = value"))?;
        let (key, value) = (key.trim(), value.trim());
        match key {
            "name" => config.name = value.to_string(),
            "port" => {
                config.port = value
                    .parse()
                    .map_err(|_| format!("line {number}: port {value:?} is not a number"))?
            }
            "debug" => config.debug = value == "true",
            _ => return Err(format!("line {number}: unknown key {key:?}")),
        }
    }
    Ok(config)
}
