//! Spot ratios as exact fractions, and the named stability weights.
//!
//! A [`Ratio`] is a whole number of millionths: `p / 1_000_000` with
//! `0 <= p <= 1_000_000`. Every value a user writes is rounded once, to the
//! nearest millionth (halves away from zero), when settings or a pod's
//! annotation are read; from then on all placement math is on integers, so
//! the same ratio always gives the same decisions.

use std::collections::BTreeMap;
use std::fmt;

/// The denominator of every ratio: ratios are counted in millionths.
pub const DENOMINATOR: u32 = 1_000_000;

/// A share of a job's executors that should run on spot capacity, held as
/// the exact fraction `millionths / 1_000_000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ratio {
    /// The numerator over [`DENOMINATOR`]; never more than it.
    millionths: u32,
}

impl Ratio {
    /// No executor on spot.
    pub const ZERO: Ratio = Ratio { millionths: 0 };
    /// Every executor on spot.
    pub const ONE: Ratio = Ratio {
        millionths: DENOMINATOR,
    };

    /// The ratio `millionths / 1_000_000`, or `None` when that is above one.
    pub const fn from_millionths(millionths: u32) -> Option<Ratio> {
        if millionths <= DENOMINATOR {
            Some(Ratio { millionths })
        } else {
            None
        }
    }

    /// The numerator over [`DENOMINATOR`].
    pub const fn millionths(self) -> u32 {
        self.millionths
    }

    /// The ratio closest to `value`, or `None` when `value` is not a finite
    /// number from 0 to 1.
    pub fn from_f64(value: f64) -> Option<Ratio> {
        if !value.is_finite() || !(0.0..=1.0).contains(&value) {
            return None;
        }
        // The product is in [0, 1e6], so the cast neither wraps nor saturates.
        let millionths = (value * f64::from(DENOMINATOR)).round() as u32;
        Ratio::from_millionths(millionths)
    }

    /// The ratio a decimal string such as `0.25` or `1` stands for, or `None`
    /// when the string is not a plain decimal number from 0 to 1.
    ///
    /// Only digits and one point are accepted: no sign, exponent, white space,
    /// `inf` or `NaN`, so that what a user reads on a pod is what it means.
    pub fn parse_decimal(text: &str) -> Option<Ratio> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let plain = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && fraction.is_empty() || !plain(whole) || !plain(fraction) {
            return None;
        }
        text.parse::<f64>().ok().and_then(Ratio::from_f64)
    }

    /// This ratio as a floating-point number, for reports and charts only.
    pub fn as_f64(self) -> f64 {
        f64::from(self.millionths) / f64::from(DENOMINATOR)
    }
}

impl fmt::Display for Ratio {
    /// The shortest decimal that reads back as the same ratio: `0`, `0.5`,
    /// `0.333333`, `1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.millionths {
            0 => f.write_str("0"),
            DENOMINATOR => f.write_str("1"),
            m => {
                let digits = format!("{m:06}");
                write!(f, "0.{}", digits.trim_end_matches('0'))
            }
        }
    }
}

/// Named ratios a job can ask for instead of a number.
///
/// The built-in names are always there; settings may change their ratios and
/// add names of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StabilityWeights {
    /// Every name a pod may use, with its ratio.
    by_name: BTreeMap<String, Ratio>,
}

/// The built-in weights and their ratios, as the README's table documents
/// them.
pub const BUILT_IN_WEIGHTS: [(&str, Ratio); 4] = [
    (
        "COST_OVER_RELIABILITY",
        Ratio {
            millionths: 800_000,
        },
    ),
    (
        "BALANCED",
        Ratio {
            millionths: 500_000,
        },
    ),
    (
        "RELIABILITY_OVER_COST",
        Ratio {
            millionths: 200_000,
        },
    ),
    ("ON_DEMAND_ONLY", Ratio::ZERO),
];

impl Default for StabilityWeights {
    fn default() -> Self {
        let by_name = BUILT_IN_WEIGHTS
            .iter()
            .map(|(name, ratio)| (name.to_string(), *ratio))
            .collect();
        StabilityWeights { by_name }
    }
}

impl StabilityWeights {
    /// Sets the ratio of `name`, adding the name if it is new.
    pub fn set(&mut self, name: String, ratio: Ratio) {
        self.by_name.insert(name, ratio);
    }

    /// The ratio of the weight called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<Ratio> {
        self.by_name.get(name).copied()
    }

    /// Every name, in alphabetical order, for messages that list them.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Whether `name` has the form of a weight name: an upper-case letter,
    /// then upper-case letters, digits and underscores. The form keeps names
    /// apart from numbers and from each other's spellings.
    pub fn is_valid_name(name: &str) -> bool {
        let mut bytes = name.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_uppercase())
            && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    }

    /// The ratio `text` stands for: a decimal from 0 to 1 or a weight name.
    pub fn resolve(&self, text: &str) -> Option<Ratio> {
        Ratio::parse_decimal(text).or_else(|| self.get(text))
    }

    /// The accepted forms, for error messages: "a number from 0 to 1 or one
    /// of BALANCED, ...".
    pub fn accepted_forms(&self) -> String {
        let names: Vec<&str> = self.names().collect();
        format!("a number from 0 to 1 or one of {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0", Some(0))]
    #[case("1", Some(1_000_000))]
    #[case("1.0", Some(1_000_000))]
    #[case("0.5", Some(500_000))]
    #[case(".25", Some(250_000))]
    #[case("0.", Some(0))]
    #[case("0.333333", Some(333_333))]
    #[case("0.3333335", Some(333_334))]
    #[case("0.0000004", Some(0))]
    #[case("0.9999996", Some(1_000_000))]
    #[case("007", None)]
    #[case("1.0000001", None)]
    #[case("2", None)]
    #[case("-0.5", None)]
    #[case("+0.5", None)]
    #[case("5e-1", None)]
    #[case(" 0.5", None)]
    #[case("NaN", None)]
    #[case("inf", None)]
    #[case(".", None)]
    #[case("", None)]
    #[case("0.5.1", None)]
    fn parses_plain_decimals_only(#[case] text: &str, #[case] millionths: Option<u32>) {
        assert_eq!(
            Ratio::parse_decimal(text).map(Ratio::millionths),
            millionths
        );
    }

    #[rstest]
    #[case(0.0, Some(0))]
    #[case(1.0, Some(1_000_000))]
    #[case(0.1, Some(100_000))]
    #[case(1.0 / 3.0, Some(333_333))]
    #[case(-0.0, Some(0))]
    #[case(1.000_000_1, None)]
    #[case(-0.1, None)]
    #[case(f64::NAN, None)]
    #[case(f64::INFINITY, None)]
    fn rounds_floats_to_millionths(#[case] value: f64, #[case] millionths: Option<u32>) {
        assert_eq!(Ratio::from_f64(value).map(Ratio::millionths), millionths);
    }

    #[rstest]
    #[case(0, "0")]
    #[case(1_000_000, "1")]
    #[case(500_000, "0.5")]
    #[case(333_333, "0.333333")]
    #[case(1, "0.000001")]
    #[case(120_000, "0.12")]
    fn displays_the_shortest_decimal(#[case] millionths: u32, #[case] shown: &str) {
        let ratio = Ratio::from_millionths(millionths).unwrap();
        assert_eq!(ratio.to_string(), shown);
        assert_eq!(Ratio::parse_decimal(shown), Some(ratio));
    }

    #[test]
    fn refuses_numerators_above_one() {
        assert_eq!(Ratio::from_millionths(1_000_001), None);
        assert_eq!(Ratio::from_millionths(u32::MAX), None);
    }

    #[rstest]
    #[case("BALANCED", true)]
    #[case("SPOT_2", true)]
    #[case("balanced", false)]
    #[case("_BALANCED", false)]
    #[case("2X", false)]
    #[case("BAL-ANCED", false)]
    #[case("", false)]
    fn weight_names_have_one_form(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(StabilityWeights::is_valid_name(name), valid);
    }

    #[test]
    fn weights_resolve_numbers_and_names() {
        let mut weights = StabilityWeights::default();
        weights.set("NIGHTLY".to_string(), Ratio::ONE);
        weights.set("BALANCED".to_string(), Ratio::from_f64(0.6).unwrap());

        assert_eq!(weights.resolve("NIGHTLY"), Some(Ratio::ONE));
        assert_eq!(weights.resolve("BALANCED"), Ratio::from_f64(0.6));
        assert_eq!(weights.resolve("ON_DEMAND_ONLY"), Some(Ratio::ZERO));
        assert_eq!(weights.resolve("0.25"), Ratio::from_f64(0.25));
        assert_eq!(weights.resolve("nightly"), None);
        assert_eq!(
            weights.accepted_forms(),
            "a number from 0 to 1 or one of BALANCED, COST_OVER_RELIABILITY, NIGHTLY, \
             ON_DEMAND_ONLY, RELIABILITY_OVER_COST"
        );
    }
}
