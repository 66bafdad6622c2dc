//! The decision, as Kubernetes' Horizontal Pod Autoscaler (autoscaling/v2) makes it: the wanted
//! replicas from the rate, then the `behavior` of the HPA: stabilization windows and scaling
//! policies in each direction, from the service's labels, with Kubernetes' defaults.
//!
//! ```text
//! wanted     = ceil(current × rate per replica / target)      (none within the tolerance band)
//! stabilized = current, raised to the lowest wanted of the scale-up window,
//!                       lowered to the highest wanted of the scale-down window
//! replicas   = stabilized, within what the policies allow over their periods, and min..max
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use fogdeft::number;
use fogdeft::Value;

/// The labels a service opts in with. Only `target-rps` is required.
pub const LABEL_TARGET: &str = "fogdeft.autoscale.target-rps";
pub const LABEL_MIN: &str = "fogdeft.autoscale.min";
pub const LABEL_MAX: &str = "fogdeft.autoscale.max";
pub const LABEL_QUERY: &str = "fogdeft.autoscale.query";
/// `fogdeft.autoscale.scale-up.policies` and so on: HPA's `behavior.scaleUp` and `scaleDown`.
pub const LABEL_BEHAVIOR: &str = "fogdeft.autoscale.";
/// The tutorial's range: 1 to 10 replicas.
pub const DEFAULT_MIN: u32 = 1;
pub const DEFAULT_MAX: u32 = 10;

/// A service's autoscaling settings, read from its labels.
#[derive(Debug, PartialEq)]
pub struct Policy {
    pub min: u32,
    pub max: u32,
    pub target_rps: f64,
    /// Its own PromQL, if it has one.
    pub query: Option<String>,
    pub up: Rules,
    pub down: Rules,
}

/// HPA's `HPAScalingRules` for one direction.
#[derive(Debug, PartialEq, Clone)]
pub struct Rules {
    pub policies: Vec<Step>,
    pub select: Select,
    /// Past recommendations this old are still considered (HPA's `stabilizationWindowSeconds`).
    pub window: Duration,
}

/// One scaling policy: at most this change per period.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct Step {
    pub change: Change,
    pub period: Duration,
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Change {
    Pods(u32),
    Percent(u32),
}

/// Which policy wins when there are several: the one that allows the most change (`Max`, the
/// default), the least (`Min`), or none at all (`Disabled`).
#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Select {
    Max,
    Min,
    Disabled,
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Direction {
    Up,
    Down,
}

impl Rules {
    /// Kubernetes' default scale-up: no window; 100 % or 4 replicas per 15 s, whichever is more.
    pub fn default_up() -> Rules {
        Rules {
            policies: vec![
                Step {
                    change: Change::Percent(100),
                    period: Duration::from_secs(15),
                },
                Step {
                    change: Change::Pods(4),
                    period: Duration::from_secs(15),
                },
            ],
            select: Select::Max,
            window: Duration::ZERO,
        }
    }

    /// Kubernetes' default scale-down: 100 % per 15 s, after the window (HPA: 300 s).
    pub fn default_down(window: Duration) -> Rules {
        Rules {
            policies: vec![Step {
                change: Change::Percent(100),
                period: Duration::from_secs(15),
            }],
            select: Select::Max,
            window,
        }
    }

    /// The replica count the policies allow in `direction`, given `current` and the replicas
    /// that were added (+) or removed (-) within each policy's period (`changed`). As HPA:
    /// a period starts at `current - changed`; Pods adds or removes that many from there,
    /// Percent that share (rounded up when adding, down when removing, so that a step is at
    /// least one replica).
    fn limit(&self, direction: Direction, current: u32, changed: impl Fn(Duration) -> i64) -> u32 {
        if self.select == Select::Disabled || self.policies.is_empty() {
            return current;
        }
        let proposals = self.policies.iter().map(|step| {
            let start = (i64::from(current) - changed(step.period)).max(0);
            match (direction, step.change) {
                (Direction::Up, Change::Pods(n)) => start + i64::from(n),
                (Direction::Up, Change::Percent(p)) => (start * (100 + i64::from(p)) + 99) / 100,
                (Direction::Down, Change::Pods(n)) => start - i64::from(n),
                (Direction::Down, Change::Percent(p)) => start * (100 - i64::from(p)) / 100,
            }
        });
        // "Max" means the most change: the highest count up, the lowest down.
        let most_change = (self.select == Select::Max) == (direction == Direction::Up);
        let limit = if most_change {
            proposals.max()
        } else {
            proposals.min()
        };
        limit
            .unwrap_or(i64::from(current))
            .clamp(0, i64::from(u32::MAX)) as u32
    }

    /// `100% per 15s, 4 pods per 15s`, as the label is written.
    pub fn show_policies(&self) -> String {
        let steps: Vec<String> = self.policies.iter().map(Step::to_string).collect();
        steps.join(", ")
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let period = self.period.show();
        match self.change {
            Change::Pods(1) => write!(f, "1 pod per {period}"),
            Change::Pods(n) => write!(f, "{n} pods per {period}"),
            Change::Percent(p) => write!(f, "{p}% per {period}"),
        }
    }
}

/// The longest period HPA allows a policy, and the longest window.
const MAX_PERIOD: Duration = Duration::from_secs(1800);
const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// `4 pods per 15s` or `100% per 1m`.
fn parse_step(text: &str) -> Option<Step> {
    let (amount, period) = text.trim().split_once(" per ")?;
    let period = Duration::parse(period.trim()).ok()?;
    let amount = amount.trim();
    let change = if let Some(p) = amount.strip_suffix('%') {
        Change::Percent(p.trim().parse().ok()?)
    } else {
        let n = amount
            .strip_suffix("pods")
            .or_else(|| amount.strip_suffix("pod"))?;
        Change::Pods(n.trim().parse().ok()?)
    };
    let positive = !matches!(change, Change::Pods(0) | Change::Percent(0));
    let in_range = !period.is_zero() && period <= MAX_PERIOD;
    (positive && in_range).then_some(Step { change, period })
}

impl Policy {
    /// The policy a service's labels give, with `default_window` for scaling down when its
    /// label does not say. An empty label counts as unset, as an empty variable does.
    pub fn from_labels(
        labels: &BTreeMap<String, String>,
        default_window: Duration,
    ) -> Result<Policy, String> {
        let label = |name: &str| labels.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let count = |name: &str, default: u32| match label(name) {
            None => Ok(default),
            Some(text) => text.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                format!("label {name}='{text}' is not a whole number of at least 1")
            }),
        };
        let target = label(LABEL_TARGET).unwrap_or_default();
        let target_rps = number(target)
            .filter(|t| t.is_finite() && *t > 0.0)
            .ok_or_else(|| format!("label {LABEL_TARGET}='{target}' is not a number above 0"))?;
        let policy = Policy {
            min: count(LABEL_MIN, DEFAULT_MIN)?,
            max: count(LABEL_MAX, DEFAULT_MAX)?,
            target_rps,
            query: label(LABEL_QUERY).map(str::to_string),
            up: rules(&label, "scale-up", Rules::default_up())?,
            down: rules(&label, "scale-down", Rules::default_down(default_window))?,
        };
        if policy.min > policy.max {
            return Err(format!(
                "label {LABEL_MIN}={} is larger than {LABEL_MAX}={}",
                policy.min, policy.max
            ));
        }
        Ok(policy)
    }

    /// HPA's rule: ratio = rate per replica / target; within the tolerance band nothing changes,
    /// else ceil(current × ratio). current × rate per replica is the service's total rate, so we
    /// divide that straight away: the same number, with no rounding error to push a ceiling one
    /// replica up. Replicas that Prometheus does not see yet count as serving nothing, as HPA
    /// counts pods without metrics on a scale-up. Kept within min..max.
    pub fn wanted_replicas(&self, current: u32, rate: f64, tolerance: f64) -> u32 {
        let ratio = rate / f64::from(current) / self.target_rps;
        let wanted = if (ratio - 1.0).abs() <= tolerance {
            current
        } else {
            // `as` saturates: an absurd rate gives u32::MAX, which the clamp brings to max.
            (rate / self.target_rps).ceil() as u32
        };
        wanted.clamp(self.min, self.max)
    }

    /// Where a count outside min..max goes at once, whatever the load: HPA does the same.
    pub fn bound(&self, current: u32) -> Option<Limit> {
        if current > self.max {
            Some(Limit::Max(self.max))
        } else if current < self.min {
            Some(Limit::Min(self.min))
        } else {
            None
        }
    }
}

/// A direction's rules from the labels `fogdeft.autoscale.scale-up.policies`, `.select-policy`
/// and `.stabilization-window` (or `scale-down.`), each one falling back to `default`'s.
fn rules<'a>(
    label: &impl Fn(&str) -> Option<&'a str>,
    direction: &str,
    default: Rules,
) -> Result<Rules, String> {
    let name = |field: &str| format!("{LABEL_BEHAVIOR}{direction}.{field}");
    let mut rules = default;
    if let Some(text) = label(&name("policies")) {
        let steps: Option<Vec<Step>> = text.split(',').map(parse_step).collect();
        rules.policies = steps.filter(|s| !s.is_empty()).ok_or_else(|| {
            format!(
                "label {}='{text}' is not a list such as '4 pods per 15s, 100% per 15s' (each above 0, periods up to 30m)",
                name("policies")
            )
        })?;
    }
    if let Some(text) = label(&name("select-policy")) {
        rules.select = match text.to_ascii_lowercase().as_str() {
            "max" => Select::Max,
            "min" => Select::Min,
            "disabled" => Select::Disabled,
            _ => {
                return Err(format!(
                    "label {}='{text}' is not Max, Min or Disabled",
                    name("select-policy")
                ))
            }
        };
    }
    if let Some(text) = label(&name("stabilization-window")) {
        rules.window = Duration::parse(text)
            .ok()
            .filter(|w| *w <= MAX_WINDOW)
            .ok_or_else(|| {
                format!(
                    "label {}='{text}' is not a duration from 0s to 60m",
                    name("stabilization-window")
                )
            })?;
    }
    Ok(rules)
}

/// What the decision holds the replica count to, when it is not simply what the rate wants.
#[derive(Debug, PartialEq, Clone)]
pub enum Limit {
    /// Above the label's max: down to it at once.
    Max(u32),
    /// Below the label's min: up to it at once.
    Min(u32),
    /// Held by the recommendations of the window: wholly, for `wait` more (until the newest
    /// that holds expires), or partly (None): a step to the window's highest (lowest) count.
    Stabilized {
        direction: Direction,
        window: Duration,
        wait: Option<Duration>,
    },
    /// The policies allow no more change within their periods.
    Policies { direction: Direction, rules: Rules },
}

impl Limit {
    /// The short name of the reason, for the metrics' `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            Limit::Max(_) => "max",
            Limit::Min(_) => "min",
            Limit::Stabilized { .. } => "stabilization",
            Limit::Policies { rules, .. } if rules.select == Select::Disabled => "disabled",
            Limit::Policies { .. } => "rate_limit",
        }
    }

    /// Why, in words.
    pub fn explain(&self) -> String {
        let way = |d: &Direction| if *d == Direction::Up { "up" } else { "down" };
        match self {
            Limit::Max(max) => format!("its max is {max}"),
            Limit::Min(min) => format!("its min is {min}"),
            Limit::Stabilized {
                direction,
                window,
                wait: Some(wait),
            } => {
                let (way, rate) = match direction {
                    Direction::Down => ("down", "low"),
                    Direction::Up => ("up", "high"),
                };
                format!(
                    "scales {way} once the rate has stayed {rate} for {} ({} to go)",
                    window.show(),
                    // To the second: it is counting down.
                    Duration::from_secs(wait.as_secs()).show()
                )
            }
            Limit::Stabilized {
                direction, window, ..
            } => {
                let most = match direction {
                    Direction::Down => "highest",
                    Direction::Up => "lowest",
                };
                format!("the {most} count wanted over the last {}", window.show())
            }
            Limit::Policies { direction, rules } if rules.select == Select::Disabled => {
                format!(
                    "scale-{} is disabled by its select-policy label",
                    way(direction)
                )
            }
            Limit::Policies { direction, rules } => format!(
                "the scale-{} policy allows no more now ({})",
                way(direction),
                rules.show_policies()
            ),
        }
    }
}

/// What to do with one service now.
#[derive(Debug, PartialEq)]
pub struct Decision {
    /// What the rate asks for.
    pub wanted: u32,
    /// What to set: the current count to keep it.
    pub replicas: u32,
    /// Why `replicas` is not `wanted`, if it is not.
    pub limit: Option<Limit>,
}

/// What the autoscaler remembers of one service: the replicas it recommended over the longest
/// window (HPA's recommendations), the changes it made over the longest period (HPA's scale
/// events), and the count it saw last.
#[derive(Debug, Default)]
pub struct Memory {
    recommendations: VecDeque<(Instant, u32)>,
    changes: VecDeque<(Instant, i64)>,
    last_seen: Option<u32>,
}

impl Memory {
    /// HPA's normalization with behaviors: stabilize, then limit by the policies and min..max.
    pub fn decide(&mut self, now: Instant, current: u32, wanted: u32, policy: &Policy) -> Decision {
        self.notice(now, current);
        let (up, down) = (&policy.up, &policy.down);
        let within = |t: Instant, window: Duration| now.duration_since(t) < window;
        // The lowest recommendation of the up window, the highest of the down window.
        let mut lowest = wanted;
        let mut highest = wanted;
        for &(t, n) in &self.recommendations {
            if within(t, up.window) {
                lowest = lowest.min(n);
            }
            if within(t, down.window) {
                highest = highest.max(n);
            }
        }
        let stabilized = current.max(lowest).min(highest);
        let stabilization = (stabilized != wanted).then(|| {
            let direction = if wanted > stabilized {
                Direction::Up
            } else {
                Direction::Down
            };
            let rules = if direction == Direction::Up { up } else { down };
            // The newest recommendation that holds the count expires last.
            let holds = |n: u32| match direction {
                Direction::Up => n <= stabilized,
                Direction::Down => n >= stabilized,
            };
            let newest = self
                .recommendations
                .iter()
                .filter(|(t, n)| within(*t, rules.window) && holds(*n))
                .map(|(t, _)| *t)
                .max()
                .unwrap_or(now);
            let wait = rules.window.saturating_sub(now.duration_since(newest));
            let wait = (stabilized == current).then_some(wait);
            Limit::Stabilized {
                direction,
                window: rules.window,
                wait,
            }
        });
        self.recommendations.push_back((now, wanted));
        let keep = up.window.max(down.window);
        self.recommendations
            .retain(|(t, _)| now.duration_since(*t) <= keep);

        let changed = |period: Duration| -> i64 {
            let recent = self.changes.iter().filter(|(t, _)| within(*t, period));
            recent.map(|(_, n)| n).sum()
        };
        let (replicas, limit) = if stabilized > current {
            let allowed = up.limit(Direction::Up, current, changed).max(current);
            if stabilized <= allowed.min(policy.max) {
                (stabilized, stabilization)
            } else if allowed < policy.max {
                let rules = up.clone();
                let direction = Direction::Up;
                (allowed, Some(Limit::Policies { direction, rules }))
            } else {
                (policy.max, Some(Limit::Max(policy.max)))
            }
        } else if stabilized < current {
            let allowed = down.limit(Direction::Down, current, changed).min(current);
            if stabilized >= allowed.max(policy.min) {
                (stabilized, stabilization)
            } else if allowed > policy.min {
                let rules = down.clone();
                let direction = Direction::Down;
                (allowed, Some(Limit::Policies { direction, rules }))
            } else {
                (policy.min, Some(Limit::Min(policy.min)))
            }
        } else {
            (current, stabilization)
        };
        Decision {
            wanted,
            replicas,
            limit,
        }
    }

    /// Missing data counts as "keep what runs": a scale-down then needs a whole window of real
    /// readings, never a gap in them.
    pub fn hold(&mut self, now: Instant, current: u32) {
        self.notice(now, current);
        self.recommendations.push_back((now, current));
    }

    /// Missing data when not even the replica count is known: the last one seen stands.
    pub fn hold_last_seen(&mut self, now: Instant) {
        if let Some(replicas) = self.last_seen {
            self.hold(now, replicas);
        }
    }

    /// We changed the count: the policies' periods count this change (HPA's scale events).
    pub fn scaled(&mut self, now: Instant, from: u32, to: u32, policy: &Policy) {
        self.changes
            .push_back((now, i64::from(to) - i64::from(from)));
        let longest = (policy.up.policies.iter())
            .chain(&policy.down.policies)
            .map(|s| s.period)
            .max()
            .unwrap_or_default();
        self.changes
            .retain(|(t, _)| now.duration_since(*t) <= longest);
        self.last_seen = Some(to);
    }

    /// Seen for the first time (as HPA starts), or scaled by someone else: what runs now counts
    /// as a recommendation, so that we do not undo it before a whole window has passed.
    fn notice(&mut self, now: Instant, current: u32) {
        if self.last_seen != Some(current) {
            self.recommendations.push_back((now, current));
            self.last_seen = Some(current);
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    /// A policy with Kubernetes' defaults, min..max, target 50.
    fn policy(min: u32, max: u32) -> Policy {
        Policy {
            min,
            max,
            target_rps: 50.0,
            query: None,
            up: Rules::default_up(),
            down: Rules::default_down(FIVE_MINUTES),
        }
    }

    fn steps(text: &str) -> Vec<Step> {
        text.split(',').map(|s| parse_step(s).unwrap()).collect()
    }

    fn rules(text: &str, select: Select, window: u64) -> Rules {
        Rules {
            policies: steps(text),
            select,
            window: Duration::from_secs(window),
        }
    }

    /// A clock for a test: `at(s)` is `s` seconds from now.
    fn seconds_from_now() -> impl Fn(u64) -> Instant {
        let start = Instant::now();
        move |s| start + Duration::from_secs(s)
    }

    /// Decides as the loop does, and remembers a change as the loop does after Docker's 2xx.
    fn step(memory: &mut Memory, now: Instant, current: u32, wanted: u32, p: &Policy) -> u32 {
        let decision = memory.decide(now, current, wanted, p);
        if decision.replicas != current {
            memory.scaled(now, current, decision.replicas, p);
        }
        decision.replicas
    }

    #[test]
    fn labels_give_the_policy_with_kubernetes_defaults() {
        let p = Policy::from_labels(&labels(&[(LABEL_TARGET, "50")]), FIVE_MINUTES).unwrap();
        assert_eq!(p, policy(1, 10));
        assert_eq!(p.up.show_policies(), "100% per 15s, 4 pods per 15s");
        assert_eq!(p.down.show_policies(), "100% per 15s");
        let all = [
            (LABEL_TARGET, "2.5"),
            (LABEL_MIN, "2"),
            (LABEL_MAX, "4"),
            (LABEL_QUERY, "own"),
            ("fogdeft.autoscale.scale-up.policies", "1 pod per 10s"),
            ("fogdeft.autoscale.scale-up.stabilization-window", "30s"),
            (
                "fogdeft.autoscale.scale-down.policies",
                "10% per 1m, 5 pods per 1m",
            ),
            ("fogdeft.autoscale.scale-down.select-policy", "Min"),
            ("fogdeft.autoscale.scale-down.stabilization-window", ""),
        ];
        let p = Policy::from_labels(&labels(&all), FIVE_MINUTES).unwrap();
        assert_eq!((p.min, p.max, p.target_rps), (2, 4, 2.5));
        assert_eq!(p.query.as_deref(), Some("own"));
        assert_eq!(p.up, rules("1 pod per 10s", Select::Max, 30));
        assert_eq!(p.down, rules("10% per 1m, 5 pods per 1m", Select::Min, 300));
        for (bad, needle) in [
            (vec![(LABEL_TARGET, "fast")], "target-rps='fast'"),
            (vec![(LABEL_TARGET, "0")], "above 0"),
            (vec![(LABEL_MIN, "0")], "min='0'"),
            (vec![(LABEL_MAX, "ten")], "max='ten'"),
            (vec![(LABEL_MIN, "5"), (LABEL_MAX, "3")], "larger than"),
            (
                vec![("fogdeft.autoscale.scale-up.policies", "4 per 15s")],
                "scale-up.policies='4 per 15s' is not a list",
            ),
            (
                vec![("fogdeft.autoscale.scale-down.policies", "0% per 15s")],
                "each above 0",
            ),
            (
                vec![("fogdeft.autoscale.scale-down.policies", "1 pod per 31m")],
                "periods up to 30m",
            ),
            (
                vec![("fogdeft.autoscale.scale-up.select-policy", "Most")],
                "not Max, Min or Disabled",
            ),
            (
                vec![("fogdeft.autoscale.scale-down.stabilization-window", "2h")],
                "from 0s to 60m",
            ),
        ] {
            let mut pairs = vec![(LABEL_TARGET, "50")];
            pairs.extend(bad);
            let error = Policy::from_labels(&labels(&pairs), FIVE_MINUTES).unwrap_err();
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn wanted_replicas_follow_the_hpa_formula_and_tolerance() {
        // kubernetes.io, "Algorithm details": 200m against 100m doubles, 50m halves, and within
        // 0.1 of 1.0 nothing changes. Here: 4 replicas at 200, 50 and 105 req/s each, target 100.
        let mut p = policy(1, 10);
        p.target_rps = 100.0;
        assert_eq!(p.wanted_replicas(4, 800.0, 0.1), 8);
        assert_eq!(p.wanted_replicas(4, 200.0, 0.1), 2);
        assert_eq!(p.wanted_replicas(4, 420.0, 0.1), 4);
        assert_eq!(p.wanted_replicas(4, 380.0, 0.1), 4);
        assert_eq!(p.wanted_replicas(4, 299.0, 0.1), 3);
        // The walkthrough: 1 replica at 305 % CPU against a 50 % target wants ceil(6.1) = 7.
        p.target_rps = 50.0;
        assert_eq!(p.wanted_replicas(1, 305.0, 0.1), 7);
        assert_eq!(p.wanted_replicas(1, 1e12, 0.1), 10);
        assert_eq!(p.wanted_replicas(3, 0.0, 0.1), 1);
    }

    #[test]
    fn the_walkthrough_scale_up_is_met_in_the_default_policys_steps() {
        // 1 replica wants 7: the default allows 4 pods or 100 % per 15 s, whichever is more:
        // 1 + 4 = 5 now, and 7 once the period of that change has passed.
        let (at, mut memory, p) = (seconds_from_now(), Memory::default(), policy(1, 10));
        let first = memory.decide(at(0), 1, 7, &p);
        assert_eq!(first.replicas, 5);
        assert_eq!(first.limit.as_ref().map(Limit::reason), Some("rate_limit"));
        memory.scaled(at(0), 1, 5, &p);
        assert_eq!(
            step(&mut memory, at(14), 5, 7, &p),
            5,
            "still in the period"
        );
        assert_eq!(step(&mut memory, at(15), 5, 7, &p), 7);
        // From 10, 100 % beats 4 pods: 20 at once (max 100).
        let (mut memory, p) = (Memory::default(), policy(1, 100));
        assert_eq!(step(&mut memory, at(0), 10, 100, &p), 20);
        assert_eq!(step(&mut memory, at(15), 20, 100, &p), 40);
    }

    #[test]
    fn a_change_counts_from_when_docker_took_it() {
        // `1 pod per 10s` and a round every 5 s: the round at 0 s scales, and Docker takes the
        // change 0.2 s later. The round at 10 s is then within the period (9.8 s after the
        // change), as in HPA, which counts from its update; the one at 15 s may go on.
        let mut p = policy(1, 10);
        p.up = rules("1 pod per 10s", Select::Max, 0);
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        assert_eq!(memory.decide(at(0), 1, 4, &p).replicas, 2);
        memory.scaled(at(0) + Duration::from_millis(200), 1, 2, &p);
        assert_eq!(memory.decide(at(5), 2, 4, &p).replicas, 2);
        assert_eq!(
            memory.decide(at(10), 2, 4, &p).replicas,
            2,
            "9.8 s after the change"
        );
        assert_eq!(memory.decide(at(15), 2, 4, &p).replicas, 3);
    }

    #[test]
    fn the_docs_scale_down_example_removes_the_larger_of_4_pods_and_10_percent() {
        // kubernetes.io, "Scaling policies": Pods 4 and Percent 10 per 60 s, select Max. From 80
        // to 10: 8 go first; at 72, 10 % is 7.2, rounded up to 8; below 40, 4 at a time.
        let mut p = policy(1, 100);
        p.down = rules("4 pods per 60s, 10% per 60s", Select::Max, 0);
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        let mut replicas = 80;
        let mut seen = vec![];
        for minute in 0..20 {
            replicas = step(&mut memory, at(minute * 60), replicas, 10, &p);
            seen.push(replicas);
            // Within the period, no second step.
            assert_eq!(
                step(&mut memory, at(minute * 60 + 15), replicas, 10, &p),
                replicas
            );
        }
        assert_eq!(&seen[..2], [72, 64]);
        let below_40 = seen.iter().position(|n| *n <= 40).unwrap();
        for pair in seen[below_40..].windows(2) {
            assert!(pair[0] - pair[1] == 4 || pair[1] == 10, "{seen:?}");
        }
        assert_eq!(*seen.last().unwrap(), 10);
    }

    #[test]
    fn select_min_removes_no_more_than_5_pods_a_minute() {
        // kubernetes.io, "Example: limit scale down rate": 10 % and 5 pods per 60 s, select Min.
        let mut p = policy(1, 100);
        p.down = rules("10% per 60s, 5 pods per 60s", Select::Min, 0);
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        assert_eq!(step(&mut memory, at(0), 80, 10, &p), 75);
        assert_eq!(step(&mut memory, at(30), 75, 10, &p), 75);
        assert_eq!(step(&mut memory, at(60), 75, 10, &p), 70);
        // At 30, 10 % (3) is the smaller change.
        assert_eq!(step(&mut Memory::default(), at(0), 30, 10, &p), 27);
    }

    #[test]
    fn select_disabled_turns_a_direction_off() {
        // kubernetes.io, "Example: disable scale down".
        let mut p = policy(1, 10);
        p.down.select = Select::Disabled;
        p.down.window = Duration::ZERO;
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        let decision = memory.decide(at(0), 5, 1, &p);
        assert_eq!(decision.replicas, 5);
        assert_eq!(decision.limit.as_ref().map(Limit::reason), Some("disabled"));
        assert_eq!(
            step(&mut memory, at(15), 5, 9, &p),
            9,
            "scaling up still works"
        );
    }

    #[test]
    fn the_default_scale_down_waits_300_s_then_goes_all_the_way() {
        // Kubernetes' default: the highest recommendation of the last 300 s, then 100 % per 15 s.
        let (at, mut memory, p) = (seconds_from_now(), Memory::default(), policy(1, 10));
        assert_eq!(step(&mut memory, at(0), 8, 8, &p), 8);
        let held = memory.decide(at(15), 8, 1, &p);
        assert_eq!(held.replicas, 8);
        let wait = Some(Duration::from_secs(285));
        let limit = Limit::Stabilized {
            direction: Direction::Down,
            window: FIVE_MINUTES,
            wait,
        };
        assert_eq!(held.limit, Some(limit));
        assert!(held
            .limit
            .unwrap()
            .explain()
            .contains("low for 5m (4m45s to go)"));
        for s in (30..300).step_by(15) {
            assert_eq!(step(&mut memory, at(s), 8, 1, &p), 8, "at {s} s");
        }
        // At 300 s the 8 of 0 s has left the window; what the window holds since is 1.
        assert_eq!(step(&mut memory, at(300), 8, 1, &p), 1);
    }

    #[test]
    fn a_partial_scale_down_goes_to_the_highest_recommendation_of_the_window() {
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        let mut p = policy(1, 10);
        p.down.window = Duration::from_secs(60);
        step(&mut memory, at(0), 6, 6, &p);
        step(&mut memory, at(30), 6, 4, &p);
        step(&mut memory, at(45), 6, 2, &p);
        // At 61 s the 6 is gone; the highest since is 4.
        let partial = memory.decide(at(61), 6, 2, &p);
        assert_eq!(partial.replicas, 4);
        let explained = partial.limit.unwrap().explain();
        assert_eq!(explained, "the highest count wanted over the last 1m");
        memory.scaled(at(61), 6, 4, &p);
        assert_eq!(step(&mut memory, at(91), 4, 2, &p), 2);
    }

    #[test]
    fn a_scale_up_window_waits_for_the_load_to_stay() {
        // stabilizationWindowSeconds on scaleUp: the lowest recommendation of the window.
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        let mut p = policy(1, 10);
        p.up.window = Duration::from_secs(60);
        assert_eq!(step(&mut memory, at(0), 1, 1, &p), 1);
        let held = memory.decide(at(15), 1, 5, &p);
        assert_eq!(
            (held.replicas, held.limit.unwrap().reason()),
            (1, "stabilization")
        );
        for s in [30, 45] {
            assert_eq!(step(&mut memory, at(s), 1, 5, &p), 1, "at {s} s");
        }
        // At 60 s the 1 of 0 s has left the window: every recommendation since is 5.
        assert_eq!(step(&mut memory, at(60), 1, 5, &p), 5);
        // More load: 9 once the window holds no lower recommendation (the 5 of 60 s).
        for s in (75..=105).step_by(15) {
            assert_eq!(step(&mut memory, at(s), 5, 9, &p), 5, "at {s} s");
        }
        assert_eq!(step(&mut memory, at(120), 5, 9, &p), 9);
    }

    #[test]
    fn min_and_max_hold_at_once_and_bound_every_step() {
        let p = policy(2, 10);
        assert_eq!(p.bound(12), Some(Limit::Max(10)));
        assert_eq!(p.bound(1), Some(Limit::Min(2)));
        assert_eq!(p.bound(5), None);
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        let capped = memory.decide(at(0), 8, 1000, &p);
        assert_eq!((capped.replicas, capped.limit), (10, Some(Limit::Max(10))));
        let mut quick = policy(2, 10);
        quick.down.window = Duration::ZERO;
        let floored = Memory::default().decide(at(0), 5, 0, &quick);
        assert_eq!((floored.replicas, floored.limit), (2, Some(Limit::Min(2))));
        assert_eq!(Limit::Max(10).explain(), "its max is 10");
    }

    #[test]
    fn missing_data_and_manual_scaling_restart_the_window() {
        let (at, mut memory) = (seconds_from_now(), Memory::default());
        let mut p = policy(1, 10);
        p.down.window = Duration::from_secs(120);
        // First sight of a service with 5 replicas and no load: not removed before the window.
        assert_eq!(step(&mut memory, at(0), 5, 1, &p), 5);
        // Prometheus is down for a long time: the gap counts as "keep 5".
        for s in (15..300).step_by(15) {
            memory.hold(at(s), 5);
        }
        assert_eq!(step(&mut memory, at(300), 5, 1, &p), 5);
        // Docker's API is down as long: the same.
        for s in (315..600).step_by(15) {
            memory.hold_last_seen(at(s));
        }
        assert_eq!(step(&mut memory, at(600), 5, 1, &p), 5);
        // Someone scales it to 8 by hand: that too waits a whole window.
        assert_eq!(step(&mut memory, at(610), 8, 1, &p), 8);
        assert_eq!(step(&mut memory, at(731), 8, 1, &p), 1);
    }

    #[test]
    fn steps_read_as_written() {
        assert_eq!(
            parse_step(" 4 pods per 15s "),
            Some(Step {
                change: Change::Pods(4),
                period: Duration::from_secs(15)
            })
        );
        assert_eq!(
            parse_step("1 pod per 1m").unwrap().to_string(),
            "1 pod per 1m"
        );
        assert_eq!(
            parse_step("100% per 15").unwrap().to_string(),
            "100% per 15s"
        );
        for bad in [
            "4 per 15s",
            "4 pods",
            "-1 pods per 15s",
            "x% per 15s",
            "4 pods per 0s",
        ] {
            assert_eq!(parse_step(bad), None, "{bad}");
        }
    }
}
