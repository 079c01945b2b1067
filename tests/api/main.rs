//! End-to-end tests of the HTTP API against the real database and the real local model.

mod bad_requests;
mod batch;
mod crash;
mod edges;
mod elastic;
mod expiry;
mod files;
mod health;
mod hostile;
mod ingestion;
mod instances;
mod library;
mod limits;
mod mcp;
mod openapi;
mod platform;
mod ranking;
mod rate_limit;
mod raw;
mod s3;
mod sdk;
mod search;
mod tenancy;
mod upload_edges;
mod uploads;
mod usage;
