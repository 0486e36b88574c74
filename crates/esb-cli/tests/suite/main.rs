//! Every integration test of `esb`, in one test binary (Cargo builds `tests/suite/` as
//! the test target `suite`): the shared harness in `support` is compiled once and the
//! binary is linked once, where fifteen binaries each compiled `support` and linked
//! the whole dependency tree again. Each module below is one area of behaviour;
//! select one with `cargo test -p esb-cli --test suite rie_differential::` or, under
//! nextest, `-E 'test(/^rie_differential::/)'`.
//!
//! Under `cargo test` the modules' tests share one process and run side by side, so
//! they keep no process-wide state: no environment or current directory changes
//! (children get theirs through `Command`), and each module names its temporary
//! folders after itself, so two modules never share one.

mod support;

mod agent_process;
mod architecture;
mod box_lifecycle;
mod cloudwatch_logs;
mod config;
mod containerd_runtime;
mod dev_commands;
mod docker_runtime;
mod dynamodb_external_engine;
mod dynamodb_service;
mod dynamodb_streams;
mod dynamodb_tables;
mod edges;
mod full_disk;
mod function_logs;
mod gateway_bad_input;
mod log_store;
mod logs_command;
mod node_join;
mod nodes;
mod original_compat;
mod remote_node;
mod rie_behaviour;
mod rie_differential;
mod route_auth;
mod s3_external_engine;
mod s3_service;
mod sqs;
mod sqs_external_engine;
mod static_binary;
mod terminal;
mod up_e2e;
