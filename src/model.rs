//! The API's nouns as they travel on the wire: backup status and method, the
//! backup object (fields in the documented order, `null` where the API writes
//! `null`) and the database object with its parts (features, instances,
//! maintenance window).
//!
//! These are *views*: the store keeps its own records and renders one of these
//! for each response, with the status derived at the moment of reading.

use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// Where a backup is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted, not started yet (`started_at` and `size` are `null`).
    Scheduled,
    /// Started, waiting for a worker (`size` is `0`).
    Pending,
    /// Being dumped (`size` is `0`).
    Running,
    /// Finished; `size` is the archive's length in bytes.
    Done,
    /// Failed (`size` is `0`).
    Error,
    /// Being cancelled (newer clients know it; the fake never derives it).
    Cancelling,
    /// Cancelled (newer clients know it; the fake never derives it).
    Cancelled,
}

impl Status {
    /// Whether the backup will not change any more.
    ///
    /// ```
    /// use scalingo_db_fake::Status;
    /// assert!(Status::Done.is_finished() && Status::Error.is_finished());
    /// assert!(!Status::Running.is_finished());
    /// ```
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Error | Status::Cancelled)
    }

    /// Order along the life of a backup (`scheduled` < `pending` < `running` <
    /// finished), used to check that status never goes backwards.
    ///
    /// ```
    /// use scalingo_db_fake::Status;
    /// assert!(Status::Scheduled.rank() < Status::Pending.rank());
    /// assert!(Status::Pending.rank() < Status::Running.rank());
    /// assert!(Status::Running.rank() < Status::Done.rank());
    /// assert_eq!(Status::Done.rank(), Status::Error.rank());
    /// ```
    pub fn rank(self) -> u8 {
        match self {
            Status::Scheduled => 0,
            Status::Pending => 1,
            Status::Running => 2,
            Status::Cancelling => 3,
            Status::Done | Status::Error | Status::Cancelled => 4,
        }
    }

    /// The wire name (`"done"`, …).
    ///
    /// ```
    /// use scalingo_db_fake::Status;
    /// assert_eq!(Status::Done.as_str(), "done");
    /// assert_eq!(serde_json::to_string(&Status::Running).unwrap(), format!("\"{}\"", Status::Running.as_str()));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Error => "error",
            Status::Cancelling => "cancelling",
            Status::Cancelled => "cancelled",
        }
    }
}

/// How a backup came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Created through `POST /api/databases/:db/backups`.
    Manual,
    /// Created by the database's daily schedule.
    Periodic,
}

/// A backup as the API shows it (fields in the documented order, `null`s and all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// 24 lowercase hex characters.
    pub id: String,
    /// When the backup was asked for.
    pub created_at: Timestamp,
    /// When it left `scheduled`; `null` before.
    pub started_at: Option<Timestamp>,
    /// `YYYYMMDDHHMMSS_<resource>`, from `created_at` in UTC.
    pub name: String,
    /// `null` while scheduled, `0` until done, then the archive's length.
    pub size: Option<u64>,
    /// Derived at read time.
    pub status: Status,
    /// The database's internal id.
    pub database_id: String,
    /// `manual` or `periodic`.
    pub method: Method,
    /// The database type (`postgresql`, …).
    #[serde(rename = "type")]
    pub db_type: String,
}

/// A database addon as `GET /api/databases/:db` shows it: the fields
/// go-scalingo's `Database` reads, in its order, with `type` after
/// `type_name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// The database's internal id.
    pub id: String,
    /// When the database was created.
    pub created_at: Timestamp,
    /// The resource name (`kibana-3938`), also the suffix of backup names.
    pub resource_id: String,
    /// The app the addon belongs to.
    pub app_name: String,
    /// Always `false` in the fake.
    pub encryption_at_rest: bool,
    /// The database's features (`force-ssl`, …) and how far each is applied.
    pub features: Vec<DatabaseFeature>,
    /// The addon plan (`postgresql-starter-512`, …).
    pub plan: String,
    /// Where the deployment stands (`running` unless a fixture says otherwise).
    pub status: DatabaseStatus,
    /// 24 hex, derived from the type: the same type always has the same id.
    pub type_id: String,
    /// The database type (`postgresql`, …).
    pub type_name: String,
    /// The database type again, under the name of the API's attribute table.
    #[serde(rename = "type")]
    pub db_type: String,
    /// 24 hex, derived from the type and the version.
    pub version_id: String,
    /// `<resource>-rs` for MongoDB, empty otherwise.
    pub mongo_repl_set_name: String,
    /// The machines of the deployment.
    pub instances: Vec<Instance>,
    /// The version an upgrade would go to: always empty in the fake.
    pub next_version_id: String,
    /// The engine version shown to people.
    pub readable_version: String,
    /// A made-up host name.
    pub hostname: String,
    /// The operation in progress: always empty in the fake.
    pub current_operation_id: String,
    /// Whether the database runs on more than one data node.
    pub cluster: bool,
    /// Whether daily backups are taken.
    pub periodic_backups_enabled: bool,
    /// Hours of the day (UTC) of the periodic backups.
    pub periodic_backups_scheduled_at: Vec<u8>,
    /// When maintenance may happen each week.
    pub maintenance_window: MaintenanceWindow,
}

/// Where a database's deployment stands (go-scalingo's `DatabaseStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseStatus {
    /// Being started, not operational yet.
    Creating,
    /// Operational.
    #[default]
    Running,
    /// A component is being migrated.
    Migrating,
    /// The plan is being changed.
    Updating,
    /// A version upgrade is being applied.
    Upgrading,
    /// Stopped (suspended).
    Stopped,
}

/// A feature of a database (`{"name":"force-ssl","status":"ACTIVATED"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseFeature {
    /// The feature's name (`force-ssl`, `publicly-available`, …).
    pub name: String,
    /// How far it is applied.
    pub status: FeatureStatus,
}

/// How far a database feature is applied (go-scalingo's `DatabaseFeatureStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FeatureStatus {
    /// Enabled.
    #[default]
    Activated,
    /// Being enabled.
    Pending,
    /// Enabling it failed.
    Failed,
}

/// One machine of a database deployment (go-scalingo's `Instance`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// The instance's id.
    pub id: String,
    /// Its host name.
    pub hostname: String,
    /// The port the engine listens on.
    pub port: u16,
    /// Where it stands.
    pub status: InstanceStatus,
    /// What it does.
    #[serde(rename = "type")]
    pub instance_type: InstanceType,
    /// Its features (always empty unless a fixture gives some).
    pub features: Vec<String>,
    /// Its address on the private network.
    pub private_ip: String,
}

/// Where an instance stands (go-scalingo's `InstanceStatus`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    /// Starting for the first time.
    Booting,
    /// Working normally.
    #[default]
    Running,
    /// Restarting.
    Restarting,
    /// Being migrated.
    Migrating,
    /// Its version is being changed.
    Upgrading,
    /// Stopped.
    Stopped,
    /// Being deleted.
    Removing,
}

/// What an instance does (go-scalingo's `InstanceType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceType {
    /// Holds data (`db-node`).
    #[default]
    DbNode,
    /// Runs a utility service.
    Utility,
    /// Routes requests to the data nodes.
    Haproxy,
}

/// The weekly window in which maintenance may happen, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Day of the week: 0 = Sunday to 6 = Saturday (Go's `time.Weekday`).
    pub weekday_utc: u8,
    /// Hour of the day it starts, 0 to 23.
    pub starting_hour_utc: u8,
    /// How long it lasts, in hours.
    pub duration_in_hour: u8,
}

impl Default for MaintenanceWindow {
    /// Tuesdays at 03:00 UTC, for 8 hours.
    fn default() -> Self {
        Self {
            weekday_utc: 2,
            starting_hour_utc: 3,
            duration_in_hour: 8,
        }
    }
}

impl MaintenanceWindow {
    /// `weekday_utc` if it is a day of the week (0 = Sunday to 6 = Saturday).
    ///
    /// ```
    /// use scalingo_db_fake::MaintenanceWindow;
    /// assert_eq!(MaintenanceWindow::check_weekday(6), Ok(6));
    /// assert!(MaintenanceWindow::check_weekday(7).is_err());
    /// ```
    pub fn check_weekday(n: u64) -> Result<u8, String> {
        u8::try_from(n)
            .ok()
            .filter(|d| *d <= 6)
            .ok_or_else(|| format!("weekday_utc must be a day of the week, 0 (Sunday) to 6 (Saturday), got {n}"))
    }

    /// `starting_hour_utc` if it is an hour of the day (0 to 23).
    ///
    /// ```
    /// use scalingo_db_fake::MaintenanceWindow;
    /// assert_eq!(MaintenanceWindow::check_starting_hour(23), Ok(23));
    /// assert!(MaintenanceWindow::check_starting_hour(24).is_err());
    /// ```
    pub fn check_starting_hour(n: u64) -> Result<u8, String> {
        u8::try_from(n)
            .ok()
            .filter(|h| *h <= 23)
            .ok_or_else(|| format!("starting_hour_utc must be an hour of the day, 0 to 23, got {n}"))
    }

    /// `duration_in_hour` if it is 1 to 24 hours.
    ///
    /// ```
    /// use scalingo_db_fake::MaintenanceWindow;
    /// assert_eq!(MaintenanceWindow::check_duration(24), Ok(24));
    /// assert!(MaintenanceWindow::check_duration(0).is_err());
    /// ```
    pub fn check_duration(n: u64) -> Result<u8, String> {
        u8::try_from(n)
            .ok()
            .filter(|h| (1..=24).contains(h))
            .ok_or_else(|| format!("duration_in_hour must be 1 to 24 hours, got {n}"))
    }
}

/// An addon of an app, as the main API shows it (`GET /v1/apps/:app/addons`):
/// the fields go-scalingo's `Addon` reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Addon {
    /// The addon id: the database's name in database-API paths.
    pub id: String,
    /// The app's id.
    pub app_id: String,
    /// The resource name (`kibana-3938`).
    pub resource_id: String,
    /// Always `running` in the fake.
    pub status: String,
    /// The addon's plan.
    pub plan: Plan,
    /// The kind of database.
    pub addon_provider: AddonProvider,
    /// When the addon was provisioned: the database's creation.
    pub provisioned_at: Timestamp,
    /// Always `null` in the fake.
    pub deprovisioned_at: Option<Timestamp>,
}

/// An addon plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// A stable id derived from the name.
    pub id: String,
    /// `postgresql-starter-512`, …
    pub name: String,
    /// `Starter 512`, …
    pub display_name: String,
    /// A sentence.
    pub description: String,
    /// Order among the provider's plans.
    pub position: i64,
    /// Always `false` in the fake.
    pub on_demand: bool,
    /// Always `false` in the fake.
    pub disabled: bool,
}

/// The provider of an addon: which database it is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddonProvider {
    /// The database type (`postgresql`, …).
    pub id: String,
    /// The name the CLI's `--addon <type>` is matched against (`PostgreSQL`).
    pub name: String,
    /// A logo.
    pub logo_url: String,
    /// A sentence.
    pub short_description: String,
}

impl AddonProvider {
    /// The provider of a database of `db_type`, named as the platform names it.
    pub fn of(db_type: &str) -> Self {
        let name = match db_type {
            "postgresql" => "PostgreSQL",
            "mysql" => "MySQL",
            "mongodb" => "MongoDB",
            "redis" => "Redis® OSS",
            "influxdb" => "InfluxDB",
            "elasticsearch" => "Elasticsearch",
            "opensearch" => "OpenSearch",
            other => other,
        };
        AddonProvider {
            id: db_type.to_string(),
            name: name.to_string(),
            logo_url: format!("https://scalingo-db-fake.invalid/logos/{db_type}.png"),
            short_description: format!("{name} database (served by scalingo-db-fake)"),
        }
    }
}

impl Plan {
    /// The plan named `name` of a `db_type` database.
    pub fn named(name: &str, db_type: &str) -> Self {
        let short = name.strip_prefix(db_type).unwrap_or(name).trim_start_matches('-');
        let display_name = short
            .split('-')
            .filter(|w| !w.is_empty())
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ");
        Plan {
            id: crate::ids::derived_id(&["plan", name]),
            name: name.to_string(),
            display_name,
            description: format!("{name} (a plan of scalingo-db-fake)"),
            position: 1,
            on_demand: false,
            disabled: false,
        }
    }
}

/// `YYYYMMDDHHMMSS_<resource>` for a backup created at `created_at`.
///
/// ```text
/// use scalingo_db_fake::model::backup_name;
/// use scalingo_db_fake::Timestamp;
/// let t = Timestamp::parse("2018-09-02T03:00:00.178+02:00").unwrap();
/// assert_eq!(backup_name(&t, "kibana-3938"), "20180902010000_kibana-3938");
/// ```
pub fn backup_name(created_at: &Timestamp, resource: &str) -> String {
    format!("{}_{resource}", created_at.utc().format("%Y%m%d%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_fields_come_in_the_spec_order_with_nulls() {
        let b = Backup {
            id: "5b8b36104ffb090be1ac3ce1".into(),
            created_at: Timestamp::parse("2018-09-02T03:00:00.178+02:00").unwrap(),
            started_at: None,
            name: "20180902010000_kibana-3938".into(),
            size: None,
            status: Status::Scheduled,
            database_id: "597601234ffb097af4f3099b".into(),
            method: Method::Manual,
            db_type: "postgresql".into(),
        };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"id":"5b8b36104ffb090be1ac3ce1","created_at":"2018-09-02T03:00:00.178+02:00","started_at":null,"name":"20180902010000_kibana-3938","size":null,"status":"scheduled","database_id":"597601234ffb097af4f3099b","method":"manual","type":"postgresql"}"#
        );
    }
}
