//! The shortest path through the fake: start it, list the seed's backups.
mod common;

#[tokio::test]
async fn a_fresh_fake_lists_the_seed_backups() {
    let fake = scalingo_db_fake::FakeServer::start().await;
    let r = common::get(&format!("{}/api/databases/my-db-123/backups", fake.url()), fake.token()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["database_backups"].as_array().map(Vec::len), Some(3));
}
