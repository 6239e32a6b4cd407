//! What a key is: its kind of value and its doc; and the two macros
//! that declare the configuration once, in [`super::sections`], so that the structs the code
//! reads and the key table that validation, `config list|get|set`, the environment overrides
//! and `init`'s template use cannot drift apart.
//!
//! Why a declarative macro: `schemars` would give the docs and defaults by reflection, but its
//! range attributes only shape a JSON schema that we would walk at run time; a proc-macro crate
//! would be a second crate for what one `macro_rules!` does. The macro keeps the core free of
//! new dependencies and every key's name, type, default, kind and doc on one line of
//! `sections.rs`.

use std::fmt;

/// The kind of value a key takes, with its allowed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Bool,
    /// A whole number in `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    Text,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A number of minutes, a second or more, fractions allowed ([`super::Minutes`]).
    Minutes,
    /// An amount of US dollars, 0 or more, fractions allowed; 0 is no cap ([`super::Usd`]).
    Usd,
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("true or false"),
            Self::Integer { min, max } if *max == i64::from(u32::MAX) => {
                write!(f, "a whole number, {min} or more")
            }
            Self::Integer { min, max } => write!(f, "a whole number from {min} to {max}"),
            Self::Text => f.write_str("a string"),
            Self::Choice(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
                write!(f, "one of {}", quoted.join(", "))
            }
            Self::Minutes => {
                f.write_str("a number of minutes, 1 second (0.0167) or more (0.25 is 15 seconds)")
            }
            Self::Usd => f.write_str("an amount of US dollars, 0 (no cap) or more, such as 2.50"),
        }
    }
}

/// A whole number, 0 or more: the kind every `u32` key has unless it says otherwise.
pub const WHOLE: ValueKind = ValueKind::Integer {
    min: 0,
    max: u32::MAX as i64,
};

/// A whole number, 1 or more.
pub const POSITIVE: ValueKind = ValueKind::Integer {
    min: 1,
    max: u32::MAX as i64,
};

/// A type a key's value can have: its kind, and how its default is written in `sections.rs`.
pub trait Setting: Sized {
    /// The default as written: `&str` for text, the value itself otherwise.
    type Literal;
    const KIND: ValueKind;
    fn from_literal(literal: Self::Literal) -> Self;
}

impl Setting for bool {
    type Literal = bool;
    const KIND: ValueKind = ValueKind::Bool;
    fn from_literal(literal: bool) -> Self {
        literal
    }
}

impl Setting for u32 {
    type Literal = u32;
    const KIND: ValueKind = WHOLE;
    fn from_literal(literal: u32) -> Self {
        literal
    }
}

impl Setting for String {
    type Literal = &'static str;
    const KIND: ValueKind = ValueKind::Text;
    fn from_literal(literal: &'static str) -> Self {
        literal.to_owned()
    }
}

/// One configuration key: where it lives, what it takes and why it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub section: &'static str,
    pub name: &'static str,
    pub kind: ValueKind,
    /// The doc comment as written (`describe` gives it as one line).
    pub doc: &'static str,
}

impl KeySpec {
    /// The dotted name used on the command line: `agents.max_concurrent`.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// The environment variable that overrides this key.
    pub fn env_var(&self) -> String {
        format!(
            "{}{}__{}",
            super::ENV_PREFIX,
            self.section.to_ascii_uppercase(),
            self.name.to_ascii_uppercase()
        )
    }

    /// What the key does, for `config list` and `init`'s comments.
    pub fn describe(&self) -> String {
        self.doc.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// One section of the file, with the comment `init` writes above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionSpec {
    pub name: &'static str,
    pub doc: &'static str,
}

impl SectionSpec {
    /// Its keys, in the order they are declared.
    pub fn keys(&self) -> impl Iterator<Item = &'static KeySpec> + use<> {
        let name = self.name;
        super::KEYS.iter().filter(move |key| key.section == name)
    }
}

/// Declares an enum whose values are words in `clambake.toml`, with its serde names, its
/// `as_str`, `Display` and its [`Setting`] (a choice among its words). Mark the default
/// variant `#[default]`.
macro_rules! choices {
    (
        $(#[doc = $doc:literal])*
        $Name:ident {
            $(
                $(#[$variant_meta:meta])* $Variant:ident = $word:literal,
            )+
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(
            Debug, Clone, Copy, Default, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $Name {
            $( $(#[$variant_meta])* #[serde(rename = $word)] $Variant, )+
        }

        impl $Name {
            /// Every value, as the configuration spells it.
            pub const WORDS: &[&str] = &[$($word),+];

            /// The value as the configuration spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$Variant => $word, )+
                }
            }
        }

        impl ::std::fmt::Display for $Name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::config::schema::Setting for $Name {
            type Literal = Self;
            const KIND: $crate::config::schema::ValueKind =
                $crate::config::schema::ValueKind::Choice(Self::WORDS);
            fn from_literal(literal: Self) -> Self {
                literal
            }
        }
    };
}

/// Declares every section and key once, generating [`super::Config`], one struct per section
/// with its `Default`, and the registries `SECTIONS` and `KEYS`.
///
/// A key is `/// doc` then `name: Type = default` and optionally `, kind = KIND` (to narrow
/// the type's kind: [`POSITIVE`], or a `ValueKind::Choice` for text), then `;`. The type is one with a [`Setting`]: `bool`, `u32`, `String`, [`super::Minutes`] or an
/// enum from [`choices!`].
macro_rules! configuration {
    (
        $(
            $(#[doc = $section_doc:literal])*
            [$section:ident] $Section:ident {
                $(
                    $(#[doc = $doc:literal])*
                    $key:ident: $ty:ty = $default:expr
                        $(, kind = $kind:expr)?
                    ;
                )+
            }
        )+
    ) => {
        /// The whole configuration. Every field has a default, so an empty file is valid.
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(default)]
        pub struct Config {
            $( $(#[doc = $section_doc])* pub $section: $Section, )+
        }

        $(
            $(#[doc = $section_doc])*
            #[derive(Debug, Clone, PartialEq, Eq, ::serde::Serialize, ::serde::Deserialize)]
            #[serde(default)]
            pub struct $Section {
                $( $(#[doc = $doc])* pub $key: $ty, )+
            }

            impl Default for $Section {
                fn default() -> Self {
                    Self {
                        $( $key: <$ty as $crate::config::schema::Setting>::from_literal($default), )+
                    }
                }
            }
        )+

        /// The sections, in the order `init` writes them.
        pub const SECTIONS: &[$crate::config::schema::SectionSpec] = &[
            $( $crate::config::schema::SectionSpec {
                name: stringify!($section),
                doc: concat!($($section_doc),*),
            }, )+
        ];

        /// Every key, grouped by section, in the order declared.
        pub const KEYS: &[$crate::config::schema::KeySpec] = &[
            $($( $crate::config::schema::KeySpec {
                section: stringify!($section),
                name: stringify!($key),
                kind: $crate::config::schema::kind_or!(
                    <$ty as $crate::config::schema::Setting>::KIND $(, $kind)?
                ),
                doc: concat!($($doc),*),
            }, )+)+
        ];
    };
}

/// The kind given, or the type's.
macro_rules! kind_or {
    ($default:expr) => {
        $default
    };
    ($default:expr, $given:expr) => {
        $given
    };
}

pub(crate) use {choices, configuration, kind_or};
