//! A schema of its own on the machine's PostgreSQL for each test, dropped afterwards.
#![allow(dead_code)]

use std::time::Duration;

use sqlx::{postgres::PgPoolOptions, PgPool};

/// The server the tests use: RAPPORT_TEST_POSTGRES, else the machine's own (trust auth,
/// database `test`). Missing, the test fails naming what to start.
pub async fn base_url() -> String {
    let candidates = match std::env::var("RAPPORT_TEST_POSTGRES") {
        Ok(v) => vec![v],
        Err(_) => vec![
            "postgres://postgres@127.0.0.1:5432/test".to_string(),
            "postgres://root@127.0.0.1:5432/test".to_string(),
        ],
    };
    let mut errors = Vec::new();
    for url in &candidates {
        match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await
        {
            Ok(pool) => {
                pool.close().await;
                return url.clone();
            }
            Err(e) => errors.push(format!("{url}: {e}")),
        }
    }
    panic!(
        "missing prerequisite: no PostgreSQL answered ({}); scripts/test.sh starts the \
         machine's (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), \
         or name one with RAPPORT_TEST_POSTGRES=URL",
        errors.join("; ")
    );
}

/// A fresh schema; its URL puts it first on the search path. Dropped on `drop_now`.
pub struct Schema {
    pub url: String,
    pub name: String,
    admin: PgPool,
}

impl Schema {
    pub async fn new() -> Schema {
        let base = base_url().await;
        let admin = PgPool::connect(&base).await.unwrap();
        let name = format!(
            "rapport_test_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Schema {
            url: format!("{base}{sep}options=-csearch_path%3D{name}"),
            name,
            admin,
        }
    }

    /// A pool on the schema, for checking what the store wrote.
    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.unwrap()
    }

    pub async fn drop_now(self) {
        let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await;
    }
}
