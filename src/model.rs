//! The API's nouns as they travel on the wire: backup status and method, the
//! backup object (fields in the documented order, `null` where the API writes
//! `null`) and the database object.
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
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Error | Status::Cancelled)
    }

    /// Order along the life of a backup (`scheduled` < `pending` < `running` <
    /// finished), used to check that status never goes backwards.
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

/// A database addon as `GET /api/databases/:db` shows it.
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
    /// Always empty in the fake.
    pub features: Vec<serde_json::Value>,
    /// The addon plan (`postgresql-starter-512`, …).
    pub plan: String,
    /// Always `running` in the fake.
    pub status: String,
    /// The database type (`postgresql`, …).
    pub type_name: String,
    /// The database type again, under the name of the API's attribute table.
    #[serde(rename = "type")]
    pub db_type: String,
    /// The engine version shown to people.
    pub readable_version: String,
    /// A made-up host name.
    pub hostname: String,
    /// Whether the database is a cluster.
    pub cluster: bool,
    /// Whether daily backups are taken.
    pub periodic_backups_enabled: bool,
    /// Hours of the day (UTC) of the periodic backups.
    pub periodic_backups_scheduled_at: Vec<u8>,
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
            id: crate::ids::derived_id("plan", name),
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
/// ```
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
