//! Compiles proto/agent.proto with protox (a pure-Rust protobuf compiler), so building
//! ESB needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/agent.proto");
    let descriptors = protox::compile(["proto/agent.proto"], ["proto"])?;
    // BTreeMap for proto maps: deterministic encoding, so a spec hashes the same every time.
    tonic_prost_build::configure()
        .btree_map(".")
        .compile_fds(descriptors)?;
    Ok(())
}
