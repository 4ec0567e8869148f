//! `agentctl cost`: the monthly Fargate bill of a deployment, from a dated price
//! table, broken down by task, resource and capacity provider, as a min..max range,
//! and beside it the same estimate one Fargate size down and one up.
//!
//! Money is computed in `f64` dollars and rounded to cents only when shown (text)
//! or serialized (JSON): an f64 carries 15 significant digits, so a monthly bill
//! below a billion dollars keeps every cent exact; rates have at most 8 decimals.
//!
//! What the estimate covers: Fargate Linux/X86_64 vCPU, memory and ephemeral
//! storage above the free 20 GiB. Not covered: NAT gateways, public IPv4
//! addresses, data transfer, CloudWatch Logs, Secrets Manager, S3.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::fargate::{valid_memory_for_cpu, EPHEMERAL_MAX_GIB, EPHEMERAL_MIN_GIB, RUNNER_SIZES, VALID_CPU};
use crate::text::{Table, Text};

/// Ephemeral storage every Fargate task gets without charge.
pub const FREE_EPHEMERAL_GIB: u32 = 20;
/// 365 × 24 / 12: the month AWS's own calculator uses.
pub const DEFAULT_HOURS_PER_MONTH: f64 = 730.0;
/// The longest month, 31 × 24 hours.
pub const MAX_HOURS_PER_MONTH: f64 = 744.0;
/// `origin` of the price table compiled into agentctl.
pub const BUILTIN_ORIGIN: &str = "built-in";

const BUILTIN_JSON: &str = include_str!("../data/fargate-prices.json");

// --- price table -------------------------------------------------------------

/// Fargate Linux/X86_64 rates of one region, per hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// FARGATE, per vCPU-hour.
    pub vcpu_hour: f64,
    /// FARGATE, per GB-hour of task memory.
    pub gb_hour: f64,
    /// Per GB-hour of ephemeral storage above [`FREE_EPHEMERAL_GIB`]; `None` when unknown.
    #[serde(default)]
    pub ephemeral_gb_hour: Option<f64>,
    /// FARGATE_SPOT, per vCPU-hour; `None` when unknown.
    #[serde(default)]
    pub spot_vcpu_hour: Option<f64>,
    /// FARGATE_SPOT, per GB-hour; `None` when unknown.
    #[serde(default)]
    pub spot_gb_hour: Option<f64>,
}

/// A dated, sourced table of Fargate rates by AWS region. The built-in one is
/// `data/fargate-prices.json`; a user file of the same shape replaces it whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// ISO 4217 code of every rate, e.g. "USD".
    pub currency: String,
    /// The date the rates were read, e.g. "2026-07-07".
    pub as_of: String,
    /// Where the rates come from (URL).
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub regions: BTreeMap<String, RegionPrices>,
    /// "built-in" or the path of the file read; not part of the file.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceTableError {
    #[error("cannot read price file {origin}: {message}")]
    Read { origin: String, message: String },
    #[error("price file {origin} is not a valid price table: {message}")]
    Parse { origin: String, message: String },
    #[error("price file {origin}: {message}")]
    Invalid { origin: String, message: String },
}

impl PriceTableError {
    /// What to do about it, for the CLI's help line.
    pub fn help(&self) -> String {
        "a price file is JSON: {\"currency\": \"USD\", \"as_of\": \"YYYY-MM-DD\", \"source\": \"URL\", \"regions\": \
         {\"us-east-1\": {\"vcpu_hour\": 0.04048, \"gb_hour\": 0.004445, \"ephemeral_gb_hour\": 0.000111, \
         \"spot_vcpu_hour\": 0.01264355, \"spot_gb_hour\": 0.00138835}}} (ephemeral and spot rates may be null)"
            .to_owned()
    }
}

impl PriceTable {
    /// The table compiled into agentctl.
    pub fn builtin() -> PriceTable {
        PriceTable::from_json(BUILTIN_JSON, BUILTIN_ORIGIN).expect("the built-in price table is valid (tested)")
    }

    /// Parses and checks a price table; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<PriceTable, PriceTableError> {
        let mut table: PriceTable = serde_json::from_str(text)
            .map_err(|e| PriceTableError::Parse { origin: origin.to_owned(), message: e.to_string() })?;
        table.origin = origin.to_owned();
        let invalid = |message: String| PriceTableError::Invalid { origin: origin.to_owned(), message };
        for (field, value) in [("currency", &table.currency), ("as_of", &table.as_of), ("source", &table.source)] {
            if value.trim().is_empty() {
                return Err(invalid(format!("`{field}` is empty: name the {}", describe_header(field))));
            }
        }
        if table.regions.is_empty() {
            return Err(invalid("`regions` is empty: give the rates of at least one region".into()));
        }
        for (region, p) in &table.regions {
            let rates = [
                ("vcpu_hour", Some(p.vcpu_hour)),
                ("gb_hour", Some(p.gb_hour)),
                ("ephemeral_gb_hour", p.ephemeral_gb_hour),
                ("spot_vcpu_hour", p.spot_vcpu_hour),
                ("spot_gb_hour", p.spot_gb_hour),
            ];
            for (field, rate) in rates {
                if let Some(r) = rate {
                    if !r.is_finite() || r <= 0.0 {
                        return Err(invalid(format!(
                            "regions.{region}.{field} is {r}: a rate is a positive number of {} per hour",
                            table.currency
                        )));
                    }
                }
            }
            if p.spot_vcpu_hour.is_some() != p.spot_gb_hour.is_some() {
                return Err(invalid(format!(
                    "regions.{region}: give both spot_vcpu_hour and spot_gb_hour, or neither"
                )));
            }
        }
        Ok(table)
    }

    /// Reads a user price file.
    pub fn from_file(path: &Path) -> Result<PriceTable, PriceTableError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PriceTableError::Read { origin: origin.clone(), message: e.to_string() })?;
        PriceTable::from_json(&text, &origin)
    }

    pub fn region(&self, region: &str) -> Result<&RegionPrices, CostError> {
        self.regions.get(region).ok_or_else(|| CostError::UnknownRegion {
            region: region.to_owned(),
            origin: self.origin.clone(),
            known: self.regions.keys().cloned().collect(),
        })
    }
}

fn describe_header(field: &str) -> &'static str {
    match field {
        "currency" => "currency of the rates (e.g. USD)",
        "as_of" => "date the rates were read (YYYY-MM-DD)",
        _ => "page or API the rates come from",
    }
}

// --- input ---------------------------------------------------------------------

/// How ECS splits tasks between FARGATE and FARGATE_SPOT: the first `base` tasks
/// run on FARGATE, the rest in the ratio `on_demand_weight : spot_weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotShare {
    pub base: u32,
    pub on_demand_weight: u32,
    pub spot_weight: u32,
}

impl SpotShare {
    /// `(tasks on FARGATE, tasks on FARGATE_SPOT)` when `tasks` run. ECS places
    /// whole tasks; a fractional share is the long-run average of its placement.
    pub fn split(&self, tasks: u32) -> (f64, f64) {
        let base = self.base.min(tasks);
        let rest = f64::from(tasks - base);
        let weights = f64::from(self.on_demand_weight) + f64::from(self.spot_weight);
        if weights == 0.0 {
            return (f64::from(tasks), 0.0);
        }
        let spot = rest * f64::from(self.spot_weight) / weights;
        (f64::from(tasks) - spot, spot)
    }
}

/// What a cost estimate needs, independent of how the config spells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostInput {
    pub region: String,
    /// Task CPU units (1024 = 1 vCPU).
    pub cpu: u32,
    pub memory_mib: u32,
    /// GiB; `None` is Fargate's default 20 GiB.
    pub ephemeral_gib: Option<u32>,
    /// Fewest tasks running (autoscaling minimum, or the smallest scheduled count).
    pub min_tasks: u32,
    /// Most tasks running (autoscaling maximum, or the largest scheduled count).
    pub max_tasks: u32,
    /// `None`: every task on FARGATE.
    pub spot: Option<SpotShare>,
    pub hours_per_month: f64,
    /// The script runner's tasks (always on FARGATE), when enabled.
    pub script_runner: Option<RunnerTasks>,
    /// What each agent task's sidecars reserve of it: (name, CPU units, MiB).
    pub sidecars: Vec<(String, u32, u32)>,
}

/// The script runner's fixed number of tasks of one size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RunnerTasks {
    pub cpu: u32,
    pub memory_mib: u32,
    pub tasks: u32,
}

impl CostInput {
    /// `tasks` tasks of `cpu`/`memory_mib` on FARGATE for a 730-hour month.
    pub fn new(region: impl Into<String>, cpu: u32, memory_mib: u32, tasks: u32) -> CostInput {
        CostInput {
            region: region.into(),
            cpu,
            memory_mib,
            ephemeral_gib: None,
            min_tasks: tasks,
            max_tasks: tasks,
            spot: None,
            hours_per_month: DEFAULT_HOURS_PER_MONTH,
            script_runner: None,
            sidecars: vec![],
        }
    }

    /// The deployment as configured. Today the task count is fixed
    /// (`desired_count`) and every task runs on FARGATE; when the config gains
    /// autoscaling bounds, schedules and a capacity provider strategy, they map to
    /// `min_tasks`/`max_tasks` (the lowest and highest count any of them sets) and
    /// `spot` here, and nothing else changes.
    /// Autoscaling bounds (widened by schedules) give the range; the capacity
    /// mix gives the spot share.
    pub fn from_config(config: &Config) -> CostInput {
        let (min_tasks, max_tasks) = match &config.autoscaling {
            None => (config.desired_count, config.desired_count),
            Some(a) => {
                let lo = config.schedules.iter().filter_map(|s| s.min).chain([a.min]).min().unwrap_or(a.min);
                let hi = config.schedules.iter().filter_map(|s| s.max).chain([a.max]).max().unwrap_or(a.max);
                (lo, hi)
            }
        };
        let spot = config.capacity.as_ref().filter(|c| c.spot_weight > 0).map(|c| SpotShare {
            base: c.fargate_base,
            on_demand_weight: c.fargate_weight,
            spot_weight: c.spot_weight,
        });
        CostInput {
            ephemeral_gib: config.ephemeral_storage_size,
            min_tasks,
            max_tasks,
            spot,
            script_runner: config.script_runner.as_ref().map(|r| RunnerTasks {
                cpu: r.cpu,
                memory_mib: r.memory,
                tasks: r.desired_count,
            }),
            sidecars: [
                (config.metrics, crate::model::METRICS_CONTAINER, crate::model::METRICS_SHARE),
                (config.protect_running_pipelines, crate::model::GUARD_CONTAINER, crate::model::GUARD_SHARE),
            ]
            .into_iter()
            .filter(|(on, _, _)| *on)
            .map(|(_, name, (cpu, mib))| (name.to_owned(), cpu, mib))
            .collect(),
            ..CostInput::new(config.region.clone(), config.agent_cpu, config.agent_memory, config.desired_count)
        }
    }

    pub fn validate(&self) -> Result<(), CostError> {
        let invalid = |m: String| Err(CostError::InvalidInput(m));
        match valid_memory_for_cpu(self.cpu) {
            None => return invalid(format!("{} is not a Fargate CPU value ({VALID_CPU:?})", self.cpu)),
            Some(mem) if !mem.contains(&self.memory_mib) => {
                return invalid(format!(
                    "{} MiB is not a valid memory size for {} CPU units (valid: {})",
                    self.memory_mib,
                    self.cpu,
                    crate::fargate::describe_memory(&mem)
                ))
            }
            Some(_) => {}
        }
        if let Some(g) = self.ephemeral_gib {
            if !(EPHEMERAL_MIN_GIB..=EPHEMERAL_MAX_GIB).contains(&g) {
                return invalid(format!(
                    "ephemeral storage of {g} GiB is outside Fargate's {EPHEMERAL_MIN_GIB}..{EPHEMERAL_MAX_GIB} GiB"
                ));
            }
        }
        if self.min_tasks > self.max_tasks {
            return invalid(format!("the task range {}..{} is empty (min > max)", self.min_tasks, self.max_tasks));
        }
        if !(self.hours_per_month > 0.0 && self.hours_per_month <= MAX_HOURS_PER_MONTH) {
            return invalid(format!(
                "{} hours a month is not between 0 and {MAX_HOURS_PER_MONTH}",
                self.hours_per_month
            ));
        }
        if let Some(s) = self.spot {
            if s.on_demand_weight == 0 && s.spot_weight == 0 {
                return invalid("a capacity provider strategy needs a weight above 0".into());
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    #[error("the {origin} price table has no Fargate prices for region {region}")]
    UnknownRegion { region: String, origin: String, known: Vec<String> },
    #[error("the {origin} price table has no FARGATE_SPOT prices for region {region}, and the config runs tasks on FARGATE_SPOT")]
    MissingSpotRate { region: String, origin: String },
    #[error("cannot estimate: {0}")]
    InvalidInput(String),
}

impl CostError {
    /// What to do about it, for the CLI's help line.
    pub fn help(&self) -> String {
        match self {
            CostError::UnknownRegion { known, .. } => format!(
                "pass a price file with the region's rates (--prices FILE, same shape as the built-in table); \
                 regions with prices: {}",
                known.join(", ")
            ),
            CostError::MissingSpotRate { region, .. } => format!(
                "add spot_vcpu_hour and spot_gb_hour for {region} in a price file (--prices FILE); current figures are \
                 on https://aws.amazon.com/fargate/pricing/"
            ),
            CostError::InvalidInput(_) => "fix the task size or counts in the config".into(),
        }
    }
}

// --- estimate --------------------------------------------------------------------

/// An amount of money, kept unrounded; rounded to cents when shown or serialized.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Money(pub f64);

impl Money {
    pub fn cents(self) -> i64 {
        (self.0 * 100.0).round() as i64
    }
    pub fn dollars(self) -> f64 {
        self.0
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}

impl std::ops::Mul<f64> for Money {
    type Output = Money;
    fn mul(self, k: f64) -> Money {
        Money(self.0 * k)
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.cents() as f64 / 100.0)
    }
}

/// `1,234.56`
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.cents();
        let (sign, cents) = if cents < 0 { ("-", -cents) } else { ("", cents) };
        let units = (cents / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in units.chars().enumerate() {
            if i > 0 && (units.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}{grouped}.{:02}", cents % 100)
    }
}

/// A monthly amount split by what it pays for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Breakdown {
    pub vcpu: Money,
    pub memory: Money,
    /// Ephemeral storage above the free 20 GiB.
    pub ephemeral_storage: Money,
    pub total: Money,
}

impl Breakdown {
    fn new(vcpu: f64, memory: f64, ephemeral_storage: f64) -> Breakdown {
        Breakdown {
            vcpu: Money(vcpu),
            memory: Money(memory),
            ephemeral_storage: Money(ephemeral_storage),
            total: Money(vcpu + memory + ephemeral_storage),
        }
    }
    fn times(self, k: f64) -> Breakdown {
        Breakdown::new(self.vcpu.0 * k, self.memory.0 * k, self.ephemeral_storage.0 * k)
    }
    fn plus(self, o: Breakdown) -> Breakdown {
        Breakdown::new(
            self.vcpu.0 + o.vcpu.0,
            self.memory.0 + o.memory.0,
            self.ephemeral_storage.0 + o.ephemeral_storage.0,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSize {
    pub cpu: u32,
    pub memory_mib: u32,
    pub vcpu: f64,
    pub memory_gb: f64,
    pub ephemeral_gib: u32,
    /// GiB above the free 20, the part that is billed.
    pub billable_ephemeral_gib: u32,
    /// The reference module's name for this size (small, medium, large, xlarge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner_size: Option<&'static str>,
}

impl TaskSize {
    /// `ephemeral_gib`: `None` is Fargate's free 20 GiB.
    pub fn new(cpu: u32, memory_mib: u32, ephemeral_gib: Option<u32>) -> TaskSize {
        let ephemeral_gib = ephemeral_gib.unwrap_or(FREE_EPHEMERAL_GIB);
        TaskSize {
            cpu,
            memory_mib,
            vcpu: f64::from(cpu) / 1024.0,
            memory_gb: f64::from(memory_mib) / 1024.0,
            ephemeral_gib,
            billable_ephemeral_gib: ephemeral_gib.saturating_sub(FREE_EPHEMERAL_GIB),
            runner_size: RUNNER_SIZES.iter().find(|(_, c, m)| *c == cpu && *m == memory_mib).map(|(n, _, _)| *n),
        }
    }
    /// "1 vCPU / 4 GiB"
    pub fn label(&self) -> String {
        format!("{} vCPU / {} GiB", trim_float(self.vcpu), trim_float(self.memory_gb))
    }
}

/// One task for a month, on each capacity provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerTask {
    pub on_demand: Breakdown,
    /// `None` when the price table has no FARGATE_SPOT rates for the region.
    pub spot: Option<Breakdown>,
}

/// The month at one task count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleCost {
    pub tasks: u32,
    pub on_demand_tasks: f64,
    pub spot_tasks: f64,
    /// What FARGATE tasks cost.
    pub on_demand: Money,
    /// What FARGATE_SPOT tasks cost.
    pub spot: Money,
    /// All tasks, by resource.
    pub by_resource: Breakdown,
    pub total: Money,
}

/// The rates used, and where they come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceInfo {
    pub origin: String,
    pub currency: String,
    pub as_of: String,
    pub source: String,
    pub region: String,
    pub rates: RegionPrices,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub region: String,
    pub currency: String,
    pub hours_per_month: f64,
    pub size: TaskSize,
    pub spot_share: Option<SpotShare>,
    pub per_task: PerTask,
    /// At the fewest tasks.
    pub min: ScaleCost,
    /// At the most tasks (equal to `min` when the count is fixed).
    pub max: ScaleCost,
    /// The script runner's tasks, when enabled: the same every month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_runner: Option<RunnerCost>,
    /// The part of each agent task's price its sidecars take (included in
    /// the task's: Fargate bills the task, not its containers).
    pub sidecars: Vec<SidecarShare>,
    /// Everything above, at the fewest and the most agent tasks.
    pub monthly_total: MonthlyTotal,
    /// False when a part of the bill could not be priced (see `warnings`).
    pub complete: bool,
    pub warnings: Vec<String>,
    pub prices: PriceInfo,
    /// The same estimate one Fargate size down; see [`neighbour_sizes`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smaller: Option<Box<Estimate>>,
    /// The same estimate one Fargate size up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub larger: Option<Box<Estimate>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunnerCost {
    pub size: TaskSize,
    pub tasks: u32,
    pub per_task: Breakdown,
    pub total: Breakdown,
}

/// A sidecar's reservation in an agent task, priced as that share of the task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SidecarShare {
    pub name: String,
    pub cpu: u32,
    pub memory_mib: u32,
    /// Per task, per month, on FARGATE.
    pub per_task: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MonthlyTotal {
    pub min: Money,
    pub max: Money,
}

/// A Fargate task size: (CPU units, memory MiB).
pub type FargateSize = (u32, u32);

/// The Fargate sizes one step down and one step up from `cpu`/`memory_mib`, for
/// right-sizing: the neighbouring CPU value (half or double) with the memory
/// scaled in the same proportion, so the memory per vCPU stays the same and the
/// reference module's runner sizes step into each other (small 1024/4096 ↔
/// medium 2048/8192 ↔ large 4096/16384 ↔ xlarge 8192/32768). When that memory is
/// not valid for the new CPU value, the nearest valid value at or above it is
/// taken, or the largest valid one (4096/30720 → 8192/61440; 2048/16384 →
/// 4096/30720). `None` at either end of the table (256 has no smaller size,
/// 16384 no larger).
pub fn neighbour_sizes(cpu: u32, memory_mib: u32) -> (Option<FargateSize>, Option<FargateSize>) {
    let Some(i) = VALID_CPU.iter().position(|&c| c == cpu) else {
        return (None, None);
    };
    let pick = |cpu: u32, target: u32| {
        let valid = valid_memory_for_cpu(cpu)?;
        let memory = valid.iter().copied().find(|&m| m >= target).or_else(|| valid.last().copied())?;
        Some((cpu, memory))
    };
    let smaller = i.checked_sub(1).and_then(|j| pick(VALID_CPU[j], memory_mib / 2));
    let larger = VALID_CPU.get(i + 1).and_then(|&c| pick(c, memory_mib * 2));
    (smaller, larger)
}

/// Estimates the month of `input` with `table`'s rates, with the neighbouring
/// sizes beside it.
pub fn estimate(input: &CostInput, table: &PriceTable) -> Result<Estimate, CostError> {
    input.validate()?;
    if let Some(r) = &input.script_runner {
        CostInput::new(input.region.clone(), r.cpu, r.memory_mib, r.tasks).validate()?;
    }
    let rates = table.region(&input.region)?;
    let mut main = estimate_size(input, table, rates)?;
    let (smaller, larger) = neighbour_sizes(input.cpu, input.memory_mib);
    let at = |(cpu, memory_mib): (u32, u32)| {
        estimate_size(&CostInput { cpu, memory_mib, ..input.clone() }, table, rates).map(Box::new)
    };
    main.smaller = smaller.map(at).transpose()?;
    main.larger = larger.map(at).transpose()?;
    Ok(main)
}

fn estimate_size(input: &CostInput, table: &PriceTable, rates: &RegionPrices) -> Result<Estimate, CostError> {
    let size = TaskSize::new(input.cpu, input.memory_mib, input.ephemeral_gib);
    let hours = input.hours_per_month;
    let mut warnings = Vec::new();
    let storage_rate = match (size.billable_ephemeral_gib, rates.ephemeral_gb_hour) {
        (0, _) => 0.0,
        (_, Some(rate)) => rate,
        (gib, None) => {
            warnings.push(format!(
                "ephemeral storage is not priced: the {} price table has no ephemeral storage rate for {}, so the \
                 {gib} GiB above the free {FREE_EPHEMERAL_GIB} GiB per task are left out; add ephemeral_gb_hour \
                 in a price file (--prices FILE)",
                table.origin, input.region
            ));
            0.0
        }
    };
    let storage = f64::from(size.billable_ephemeral_gib) * storage_rate * hours;
    let on_demand =
        Breakdown::new(size.vcpu * rates.vcpu_hour * hours, size.memory_gb * rates.gb_hour * hours, storage);
    let spot = match (rates.spot_vcpu_hour, rates.spot_gb_hour) {
        (Some(v), Some(g)) => Some(Breakdown::new(size.vcpu * v * hours, size.memory_gb * g * hours, storage)),
        _ => None,
    };
    let runs_spot = input.spot.is_some_and(|s| s.split(input.max_tasks).1 > 0.0);
    if runs_spot && spot.is_none() {
        return Err(CostError::MissingSpotRate { region: input.region.clone(), origin: table.origin.clone() });
    }
    let per_task = PerTask { on_demand, spot };
    let at = |tasks: u32| {
        let (od_tasks, spot_tasks) = input.spot.map_or((f64::from(tasks), 0.0), |s| s.split(tasks));
        let od = per_task.on_demand.times(od_tasks);
        let sp = per_task.spot.unwrap_or_default().times(spot_tasks);
        let by_resource = od.plus(sp);
        ScaleCost {
            tasks,
            on_demand_tasks: od_tasks,
            spot_tasks,
            on_demand: od.total,
            spot: sp.total,
            total: by_resource.total,
            by_resource,
        }
    };
    let script_runner = input.script_runner.map(|r| {
        let size = TaskSize::new(r.cpu, r.memory_mib, None);
        let per_task = Breakdown::new(size.vcpu * rates.vcpu_hour * hours, size.memory_gb * rates.gb_hour * hours, 0.0);
        RunnerCost { size, tasks: r.tasks, per_task, total: per_task.times(f64::from(r.tasks)) }
    });
    let sidecars = input
        .sidecars
        .iter()
        .map(|(name, cpu, mib)| SidecarShare {
            name: name.clone(),
            cpu: *cpu,
            memory_mib: *mib,
            per_task: Money(
                (f64::from(*cpu) / 1024.0 * rates.vcpu_hour + f64::from(*mib) / 1024.0 * rates.gb_hour) * hours,
            ),
        })
        .collect();
    let (min, max) = (at(input.min_tasks), at(input.max_tasks));
    let runner_total = script_runner.as_ref().map_or(0.0, |r| r.total.total.0);
    Ok(Estimate {
        region: input.region.clone(),
        currency: table.currency.clone(),
        hours_per_month: hours,
        spot_share: input.spot,
        monthly_total: MonthlyTotal { min: Money(min.total.0 + runner_total), max: Money(max.total.0 + runner_total) },
        script_runner,
        sidecars,
        min,
        max,
        complete: warnings.is_empty(),
        warnings,
        prices: PriceInfo {
            origin: table.origin.clone(),
            currency: table.currency.clone(),
            as_of: table.as_of.clone(),
            source: table.source.clone(),
            region: input.region.clone(),
            rates: rates.clone(),
        },
        size,
        per_task,
        smaller: None,
        larger: None,
    })
}

// --- rendering -------------------------------------------------------------------

impl Estimate {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an estimate serializes")
    }

    fn money(&self, m: Money) -> String {
        if self.currency == "USD" {
            format!("${m}")
        } else {
            format!("{m} {}", self.currency)
        }
    }

    /// The whole month, the script runner included: "$85.06" or "$85.06 .. $255.18".
    fn total_range(&self) -> String {
        let MonthlyTotal { min, max } = self.monthly_total;
        if min.cents() == max.cents() {
            self.money(min)
        } else {
            format!("{} .. {}", self.money(min), self.money(max))
        }
    }

    fn tasks_label(&self) -> String {
        let n = |t: u32| format!("{t} task{}", if t == 1 { "" } else { "s" });
        if self.min.tasks == self.max.tasks {
            n(self.min.tasks)
        } else {
            format!("{}..{} tasks", self.min.tasks, self.max.tasks)
        }
    }

    /// A row of the breakdown table: `label  vCPU  memory  storage  total`.
    fn breakdown_row(&self, table: &mut Table, label: &str, b: &Breakdown) {
        table.row([
            label.to_owned(),
            self.money(b.vcpu),
            self.money(b.memory),
            self.money(b.ephemeral_storage),
            self.money(b.total),
        ]);
    }

    /// The estimate for a terminal or a CI log.
    pub fn render_text(&self) -> String {
        let mut o = Text::new();
        let s = &self.size;
        let runner = s.runner_size.map(|r| format!(" (runner size {r})")).unwrap_or_default();
        let storage = if s.billable_ephemeral_gib == 0 {
            format!("{} GiB ephemeral storage (free)", s.ephemeral_gib)
        } else {
            format!("{} GiB ephemeral storage ({} GiB billed)", s.ephemeral_gib, s.billable_ephemeral_gib)
        };
        o.line(format_args!(
            "Fargate cost estimate for {}, {} hours a month{}",
            self.region,
            trim_float(self.hours_per_month),
            if self.complete { "" } else { " (INCOMPLETE, see below)" }
        ));
        let p = &self.prices;
        let r = &p.rates;
        let mut rates = Table::new();
        rates.row(["FARGATE".to_owned(), format!("{} per vCPU-hour, {} per GB-hour", r.vcpu_hour, r.gb_hour)]);
        if let (Some(v), Some(g)) = (r.spot_vcpu_hour, r.spot_gb_hour) {
            rates.row(["FARGATE_SPOT".to_owned(), format!("{v} per vCPU-hour, {g} per GB-hour")]);
        }
        rates.row([
            "storage".to_owned(),
            match r.ephemeral_gb_hour {
                Some(e) => format!("{e} per GB-hour above {FREE_EPHEMERAL_GIB} GiB"),
                None => "no rate in the table".to_owned(),
            },
        ]);
        let mut summary = Table::new().indent(2);
        summary.row([
            "task size".to_owned(),
            format!("{} ({} CPU units / {} MiB){runner}, {storage}", s.label(), s.cpu, s.memory_mib),
        ]);
        summary.row(["tasks".to_owned(), format!("{}{}", self.tasks_label(), self.share_label())]);
        if !self.sidecars.is_empty() {
            let each: Vec<String> = self
                .sidecars
                .iter()
                .map(|c| {
                    format!(
                        "{} {} CPU units / {} MiB ({} a task-month)",
                        c.name,
                        c.cpu,
                        c.memory_mib,
                        self.money(c.per_task)
                    )
                })
                .collect();
            let (cpu, mib) = self
                .sidecars
                .iter()
                .fold((s.cpu, s.memory_mib), |(c, m), x| (c.saturating_sub(x.cpu), m.saturating_sub(x.memory_mib)));
            summary.row([
                "sidecars".to_owned(),
                format!(
                    "{}; the agent keeps {cpu} CPU units / {mib} MiB (included in the task's price)",
                    each.join(", ")
                ),
            ]);
        }
        summary.row([
            "prices".to_owned(),
            format!("{} {} table, as of {}, source: {}\n{}", p.currency, p.origin, p.as_of, p.source, rates)
                .trim_end()
                .to_owned(),
        ]);
        o.push(&summary.render()).blank();

        // Per task and for all tasks in one table, so their columns line up.
        let mut breakdown = Table::new().indent(2).right_align(1).right_align(2).right_align(3).right_align(4);
        let header = |title: &'static str| [title, "vCPU", "memory", "storage", "total"];
        breakdown.row(header("per task, per month"));
        self.breakdown_row(&mut breakdown, "FARGATE", &self.per_task.on_demand);
        if let Some(spot) = &self.per_task.spot {
            self.breakdown_row(&mut breakdown, "FARGATE_SPOT", spot);
        }
        breakdown.row(Vec::<String>::new()).row(header("all tasks, per month"));
        let scales: Vec<&ScaleCost> =
            if self.min.tasks == self.max.tasks { vec![&self.min] } else { vec![&self.min, &self.max] };
        for sc in scales {
            let label = if self.spot_share.is_some() {
                format!("{} ({} + {} spot)", sc.tasks, trim_float(sc.on_demand_tasks), trim_float(sc.spot_tasks))
            } else {
                format!("{} task{}", sc.tasks, if sc.tasks == 1 { "" } else { "s" })
            };
            self.breakdown_row(&mut breakdown, &label, &sc.by_resource);
            if self.spot_share.is_some() {
                breakdown.row([
                    String::new(),
                    format!("FARGATE {}, FARGATE_SPOT {}", self.money(sc.on_demand), self.money(sc.spot)),
                ]);
            }
        }
        if let Some(r) = &self.script_runner {
            breakdown.row(Vec::<String>::new()).row(header("script runner, per month"));
            self.breakdown_row(&mut breakdown, &format!("{} × {}", r.tasks, r.size.label()), &r.total);
        }
        o.push(&breakdown.render()).blank();
        o.line(format_args!("  Monthly total: {}", self.total_range()));

        if self.smaller.is_some() || self.larger.is_some() {
            o.blank().line("  Right-sizing (same tasks and storage):");
            let mut sizes = Table::new().indent(4).right_align(2);
            let mut size = |which: &str, e: &Estimate| {
                sizes.row([
                    which.to_owned(),
                    e.size.label(),
                    format!("{} per task", e.money(e.per_task.on_demand.total)),
                    format!("{} a month", e.total_range()),
                ]);
            };
            if let Some(e) = &self.smaller {
                size("smaller", e);
            }
            size("current", self);
            if let Some(e) = &self.larger {
                size("larger", e);
            }
            o.push(&sizes.render());
            o.line(
                "    Go down a size when p95 memory < 60% and CPU throttling < 1%; up when p95 memory > 80% or throttling > 5%.",
            );
        }
        for w in &self.warnings {
            o.blank().line(format_args!("  warning: {w}"));
        }
        o.blank().line(
            "  Not included: NAT gateways, public IPv4 addresses, data transfer, CloudWatch Logs, Secrets Manager, S3.",
        );
        o.into()
    }

    fn share_label(&self) -> String {
        match self.spot_share {
            None => ", all on FARGATE".into(),
            Some(s) => format!(
                ", first {} on FARGATE, the rest FARGATE : FARGATE_SPOT = {} : {}",
                s.base, s.on_demand_weight, s.spot_weight
            ),
        }
    }
}

/// 1 → "1", 0.5 → "0.5", 2.5 → "2.5"
fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_is_dated() {
        let t = PriceTable::builtin();
        assert_eq!(t.origin, BUILTIN_ORIGIN);
        assert_eq!(t.currency, "USD");
        assert!(t.source.contains("aws.amazon.com/fargate/pricing"));
        assert!(t.as_of.len() == 10 && t.as_of.starts_with("20"), "{}", t.as_of);
        let us = t.region("us-east-1").unwrap();
        assert_eq!((us.vcpu_hour, us.gb_hour, us.ephemeral_gb_hour), (0.04048, 0.004445, Some(0.000111)));
        for r in t.regions.keys() {
            assert!(crate::regions::is_aws_region(r), "{r} is not an AWS region");
        }
    }

    #[test]
    fn money_rounds_and_groups() {
        assert_eq!(Money(85.0596).to_string(), "85.06");
        assert_eq!(Money(1234567.891).to_string(), "1,234,567.89");
        assert_eq!(Money(0.004).to_string(), "0.00");
        assert_eq!(Money(999.995).cents(), 100000);
        assert_eq!(serde_json::to_string(&Money(42.5298)).unwrap(), "42.53");
    }

    #[test]
    fn neighbours_follow_runner_sizes_and_clamp() {
        assert_eq!(neighbour_sizes(1024, 4096), (Some((512, 2048)), Some((2048, 8192))));
        assert_eq!(neighbour_sizes(2048, 8192), (Some((1024, 4096)), Some((4096, 16384))));
        assert_eq!(neighbour_sizes(8192, 32768), (Some((4096, 16384)), Some((16384, 65536))));
        assert_eq!(neighbour_sizes(256, 512), (None, Some((512, 1024))));
        assert_eq!(neighbour_sizes(16384, 122880), (Some((8192, 61440)), None));
        assert_eq!(neighbour_sizes(2048, 16384).1, Some((4096, 30720)));
        assert_eq!(neighbour_sizes(4096, 9216).1, Some((8192, 20480)));
        assert_eq!(neighbour_sizes(3000, 4096), (None, None));
    }

    #[test]
    fn spot_split_follows_base_then_weights() {
        let s = SpotShare { base: 1, on_demand_weight: 1, spot_weight: 3 };
        assert_eq!(s.split(0), (0.0, 0.0));
        assert_eq!(s.split(1), (1.0, 0.0));
        assert_eq!(s.split(5), (2.0, 3.0));
    }
}
