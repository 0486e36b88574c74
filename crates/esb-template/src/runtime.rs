//! The `Runtime` values ESB can run: the Python versions Lambda has offered and the
//! custom-runtime family (`provided*`), where the function brings its own `bootstrap`.

use serde::{Deserialize, Serialize};

/// Python minor versions accepted for `python3.x`.
const PYTHON_MINORS: std::ops::RangeInclusive<u32> = 8..=14;
const PROVIDED: [&str; 3] = ["provided", "provided.al2", "provided.al2023"];

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Runtime {
    /// `python3.<minor>`
    Python { minor: u32 },
    /// `provided`, `provided.al2`, `provided.al2023`: a `bootstrap` executable.
    Provided { variant: String },
}

impl Runtime {
    /// Parses a SAM runtime identifier; `None` when ESB cannot run it.
    pub fn parse(id: &str) -> Option<Runtime> {
        if let Some(minor) = id
            .strip_prefix("python3.")
            .filter(|m| !m.starts_with('0') && m.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|m| m.parse().ok())
            .filter(|m| PYTHON_MINORS.contains(m))
        {
            return Some(Runtime::Python { minor });
        }
        PROVIDED.contains(&id).then(|| Runtime::Provided {
            variant: id.to_string(),
        })
    }

    /// The SAM identifier (`python3.12`, `provided.al2023`).
    pub fn id(&self) -> String {
        match self {
            Runtime::Python { minor } => format!("python3.{minor}"),
            Runtime::Provided { variant } => variant.clone(),
        }
    }

    /// For error hints: what ESB accepts.
    pub fn supported() -> String {
        format!(
            "python3.{} to python3.{}, {}",
            PYTHON_MINORS.start(),
            PYTHON_MINORS.end(),
            PROVIDED.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_supported_runtimes() {
        assert_eq!(
            Runtime::parse("python3.12"),
            Some(Runtime::Python { minor: 12 })
        );
        assert_eq!(
            Runtime::parse("provided.al2023"),
            Some(Runtime::Provided {
                variant: "provided.al2023".into()
            })
        );
        for bad in [
            "nodejs20.x",
            "python3.2",
            "python3.012",
            "python3.+9",
            "python3",
            "provided.al3",
            "java21",
        ] {
            assert_eq!(Runtime::parse(bad), None, "{bad}");
        }
        assert_eq!(Runtime::Python { minor: 9 }.id(), "python3.9");
        assert!(Runtime::supported().contains("provided.al2023"));
    }
}
